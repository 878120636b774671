#pragma once
// RAII for HDF5 identifiers, and a check macro-free helper that turns a negative
// HDF5 return into an exception naming the file and the operation. HDF5's own error
// stack printing is switched off: our messages say what went wrong and where.

#include <hdf5.h>

#include <stdexcept>
#include <string>
#include <utility>

namespace fer {

class H5Handle {
 public:
  using Closer = herr_t (*)(hid_t);
  H5Handle() = default;
  H5Handle(hid_t id, Closer closer) : id_(id), closer_(closer) {}
  ~H5Handle() { reset(); }
  H5Handle(H5Handle&& other) noexcept
      : id_(std::exchange(other.id_, H5I_INVALID_HID)), closer_(other.closer_) {}
  H5Handle& operator=(H5Handle&& other) noexcept {
    if (this != &other) {
      reset();
      id_ = std::exchange(other.id_, H5I_INVALID_HID);
      closer_ = other.closer_;
    }
    return *this;
  }
  H5Handle(const H5Handle&) = delete;
  H5Handle& operator=(const H5Handle&) = delete;

  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }
  void reset() {
    if (id_ >= 0 && closer_) closer_(id_);
    id_ = H5I_INVALID_HID;
  }

 private:
  hid_t id_ = H5I_INVALID_HID;
  Closer closer_ = nullptr;
};

// Throws std::runtime_error("<where>: <what> failed") when `id` is negative.
inline hid_t h5_check(hid_t id, const std::string& where, const char* what) {
  if (id < 0) throw std::runtime_error(where + ": HDF5 " + what + " failed");
  return id;
}

// Switches off HDF5's automatic error printing once per process.
void silence_hdf5_errors();

}  // namespace fer
