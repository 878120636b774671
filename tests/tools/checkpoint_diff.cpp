// fer-test-checkpoint-diff A.pt B.pt: compares the model parameters of two fer-train
// checkpoints (used by the distributed equivalence test). Prints, per tensor and
// overall, the largest absolute difference and the largest difference relative to
// the tensor's largest magnitude (BatchNorm running statistics are skipped); exits 0,
// or 2 when the tensors do not correspond or a file cannot be read.
#include <torch/torch.h>

#include <cstdio>
#include <functional>
#include <string>

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s A.pt B.pt\n", argv[0]);
    return 2;
  }
  torch::serialize::InputArchive a, b, model_a, model_b;
  try {
    a.load_from(argv[1]);
    b.load_from(argv[2]);
    a.read("model", model_a);
    b.read("model", model_b);
  } catch (const std::exception& e) {
    const std::string what = e.what();
    std::fprintf(stderr, "cannot read the checkpoints: %s\n",
                 what.substr(0, what.find('\n')).c_str());
    return 2;
  }
  double worst_absolute = 0, worst_relative = 0;
  int tensors = 0;
  bool mismatch = false;
  // Modules are archives of parameters and sub-module archives: walk them together.
  std::function<void(torch::serialize::InputArchive&, torch::serialize::InputArchive&,
                     const std::string&)>
      compare = [&](torch::serialize::InputArchive& x_archive,
                    torch::serialize::InputArchive& y_archive, const std::string& prefix) {
        for (const std::string& key : x_archive.keys()) {
          torch::Tensor x, y;
          if (x_archive.try_read(key, x)) {
            if (!y_archive.try_read(key, y) || x.sizes() != y.sizes()) {
              std::fprintf(stderr, "%s%s: missing or of another shape in B\n", prefix.c_str(),
                           key.c_str());
              mismatch = true;
              continue;
            }
            // Parameters only: BatchNorm running statistics legitimately differ between
            // N ranks (averaged) and N accumulated micro-batches (updated N times).
            if (!x.is_floating_point() || key == "running_mean" || key == "running_var") continue;
            const double absolute = (x - y).abs().max().item<double>();
            const double scale = std::max(x.abs().max().item<double>(), 1e-12);
            worst_absolute = std::max(worst_absolute, absolute);
            worst_relative = std::max(worst_relative, absolute / scale);
            ++tensors;
            continue;
          }
          torch::serialize::InputArchive x_sub, y_sub;
          if (x_archive.try_read(key, x_sub) && y_archive.try_read(key, y_sub))
            compare(x_sub, y_sub, prefix + key + ".");
        }
      };
  compare(model_a, model_b, "");
  if (mismatch) return 2;
  if (tensors == 0) {
    std::fprintf(stderr, "no parameter tensors found\n");
    return 2;
  }
  std::printf("tensors %d max_abs_diff %.3e max_rel_diff %.3e\n", tensors, worst_absolute,
              worst_relative);
  return 0;
}
