#pragma once
// The job's process group: which rank this process is, how many ranks there are and
// which of them share this node; and the control plane between them over MPI
// (startup agreement, broadcasts, barriers, exact reductions of evaluation counts,
// and the CPU gradient all-reduce). No LibTorch and no MPI in this header.
//
// Who joins: a process started by mpirun/mpiexec or `srun --mpi=pmix` joins the MPI
// world; a process started on its own is a world of one and never initialises MPI.
//
// Never hang: every collective is started non-blocking and polled until it completes
// or its deadline (set_timeout) passes. At the deadline the rank asks every other rank
// where it is (a point-to-point exchange on a communicator of its own, with a short
// grace period), then throws DistributedError naming the ranks that gave no word and
// what the others are waiting for. run_tool reports it and, through the handler
// installed here, aborts the whole job (MPI_Abort), so the stalled rank goes too.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace fer {

// A collective failed or timed out; the job cannot continue.
class DistributedError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class ElementType { kFloat32, kFloat64, kInt64 };

class ProcessGroup;

// A started non-blocking collective. Move-only; must be completed (wait) before the
// buffer it works on is used or freed.
class PendingCollective {
 public:
  PendingCollective();
  PendingCollective(PendingCollective&&) noexcept;
  PendingCollective& operator=(PendingCollective&&) noexcept;
  ~PendingCollective();

  // Lets MPI progress; true once the collective has completed.
  bool test();
  // Completes it, or throws DistributedError at the deadline (after diagnosing).
  void wait();
  bool active() const { return request_ != nullptr; }

 private:
  friend class ProcessGroup;
  struct Request;
  PendingCollective(ProcessGroup* group, std::unique_ptr<Request> request, std::string what,
                    std::uint64_t index);
  ProcessGroup* group_ = nullptr;
  std::unique_ptr<Request> request_;
  std::string what_;
  std::uint64_t index_ = 0;
};

class ProcessGroup {
 public:
  // Joins the MPI world when the process was started by an MPI launcher.
  ProcessGroup(int* argc, char*** argv);
  ~ProcessGroup();
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  // True when the environment shows an MPI launcher (mpirun, mpiexec, srun --mpi=pmix).
  static bool launched_by_mpi();

  int rank() const { return rank_; }
  int size() const { return size_; }
  int local_rank() const { return local_rank_; }  // among the ranks on this node
  int local_size() const { return local_size_; }
  bool uses_mpi() const { return mpi_; }
  const std::string& host() const { return host_; }
  std::string label() const;  // "rank 1/4 on node7"

  // Deadline for each wait on another rank (dist.timeout_seconds).
  void set_timeout(double seconds) { timeout_seconds_ = seconds; }
  double timeout() const { return timeout_seconds_; }
  // Consulted about once a second while this rank waits on others: a non-empty
  // answer (a rank known to be stopped, from its heartbeats) ends the wait with a
  // DistributedError at once instead of at the deadline. Empty function: none.
  void set_liveness_check(std::function<std::string()> check) {
    liveness_check_ = std::move(check);
  }
  // Throws DistributedError when the liveness check reports a stopped rank (for
  // waits outside the group, such as NCCL's).
  void check_liveness(const std::string& what, double waited_seconds);

  // `what` names the collective in timeout messages ("gradient all-reduce, step 12").
  void barrier(const std::string& what);
  void broadcast(std::string& bytes, int root, const std::string& what);
  void broadcast(void* data, std::size_t bytes, int root, const std::string& what);
  void all_reduce_sum(std::int64_t* data, std::size_t count, const std::string& what);
  void all_reduce_sum(double* data, std::size_t count, const std::string& what);
  // Every rank's string at `root` (rank order); other ranks get an empty vector.
  std::vector<std::string> gather(const std::string& mine, int root, const std::string& what);
  // In-place sum over ranks, started now; complete it with PendingCollective::wait.
  PendingCollective start_all_reduce_sum(void* data, std::size_t count, ElementType type,
                                         const std::string& what);

  // Ends every rank of the job now with `exit_code` (MPI_Abort); in a world of one,
  // exits this process.
  [[noreturn]] void abort(int exit_code);

 private:
  friend class PendingCollective;
  struct Communicators;
  void wait_for(PendingCollective::Request& request, const std::string& what, std::uint64_t index);
  [[noreturn]] void fail_after_timeout(const std::string& what, std::uint64_t index,
                                       double waited_seconds);

  bool mpi_ = false;
  int rank_ = 0;
  int size_ = 1;
  int local_rank_ = 0;
  int local_size_ = 1;
  std::string host_;
  double timeout_seconds_ = 300;
  std::function<std::string()> liveness_check_;
  std::uint64_t collectives_started_ = 0;
  std::unique_ptr<Communicators> comms_;
};

}  // namespace fer
