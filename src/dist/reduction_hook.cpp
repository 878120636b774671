#include "dist/reduction_hook.hpp"

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

std::shared_ptr<const ReductionHook> make_reduction_hook(Compression compression) {
  const std::string name(name_of(compression));
  switch (compression) {
    case Compression::kNone:
      break;
    case Compression::kBf16:
      return std::make_shared<CastHook>(name, at::kBFloat16);
    case Compression::kFp16:
      return std::make_shared<CastHook>(name, at::kHalf);
  }
  return std::make_shared<CastHook>(name, at::kFloat);
}

}  // namespace fer
