#include "dist/reduction_hook.hpp"

#include "common/error.hpp"

namespace fer {
namespace {

class CastHook final : public ReductionHook {
 public:
  CastHook(std::string name, at::ScalarType wire_type)
      : name_(std::move(name)), wire_type_(wire_type) {}
  std::string name() const override { return name_; }
  at::ScalarType wire_type() const override { return wire_type_; }
  at::Tensor encode(const at::Tensor& flat) const override {
    return flat.scalar_type() == wire_type_ ? flat : flat.to(wire_type_);
  }

 private:
  std::string name_;
  at::ScalarType wire_type_;
};

}  // namespace

std::shared_ptr<const ReductionHook> make_reduction_hook(const std::string& compression) {
  if (compression == "none") return std::make_shared<CastHook>(compression, at::kFloat);
  if (compression == "bf16") return std::make_shared<CastHook>(compression, at::kBFloat16);
  if (compression == "fp16") return std::make_shared<CastHook>(compression, at::kHalf);
  throw InputError("dist.compression: '" + compression + "'; choose none, bf16 or fp16");
}

}  // namespace fer
