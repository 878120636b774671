#include "data/hdf5_handle.hpp"

#include <mutex>

namespace fer {

void silence_hdf5_errors() {
  static std::once_flag once;
  std::call_once(once, [] { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); });
}

}  // namespace fer
