#!/usr/bin/env bash
# sbatch, after checking that the request fits a node: Slurm itself leaves a job that
# asks more CPUs per node than any node has pending forever ("(PartitionConfig)"),
# and `sbatch --wait` with it, unless the cluster sets EnforcePartLimits=ALL.
#   bash slurm/submit.sh [sbatch options] slurm/train.sh [fer-train arguments]
# Reads --ntasks-per-node, --cpus-per-task and --partition/-p from the options (else
# the script's #SBATCH lines), compares with `sinfo`, then runs sbatch unchanged.
set -euo pipefail
args=("$@")
script=""
for a in "${args[@]}"; do
  case "$a" in *.sh) script=$a; break ;; esac
done
value_of() {  # value_of NAME : from the command line before the script, else #SBATCH
  local name=$1 a next="" v=""
  for a in "${args[@]}"; do
    [ "$a" = "$script" ] && break
    if [ -n "$next" ]; then v=$a; next=""; continue; fi
    case "$a" in
      "--$name="*) v=${a#--"$name"=} ;;
      "--$name") next=1 ;;
    esac
  done
  if [ -z "$v" ] && [ -n "$script" ] && [ -f "$script" ]; then
    v=$(sed -nE "s/^#SBATCH --$name=([^ ]+).*/\\1/p" "$script" | tail -1)
  fi
  echo "$v"
}
tasks=$(value_of ntasks-per-node)
cpus=$(value_of cpus-per-task)
partition=$(value_of partition)
tasks=${tasks:-1}
cpus=${cpus:-1}
sinfo_args=(-h -o "%c")
[ -z "$partition" ] || sinfo_args+=(-p "$partition")
if largest=$(sinfo "${sinfo_args[@]}" 2>/dev/null | sort -n | tail -1) && [ -n "$largest" ]; then
  largest=${largest%+}  # "2+" when nodes differ
  if [ $((tasks * cpus)) -gt "$largest" ]; then
    echo "slurm/submit.sh: error: $tasks tasks x $cpus CPUs per node = $((tasks * cpus)) CPUs," \
         "but the largest node${partition:+ of partition $partition} has $largest:" \
         "lower --ntasks-per-node or --cpus-per-task (the job would pend forever)" >&2
    exit 2
  fi
else
  echo "slurm/submit.sh: note: sinfo gave no node sizes; submitting unchecked" >&2
fi
exec sbatch "$@"
