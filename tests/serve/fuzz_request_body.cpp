// libFuzzer target for fer-serve's request body rules (src/serve/request_body.cpp),
// built and run by fuzz_request_body.sh with clang (-fsanitize=fuzzer,address,undefined).
// Bodies and content types come from anyone who can reach the port, so no input may
// crash, hang or escape as anything but a RequestError with a 4xx status. Beyond "no
// crash": the image found lies inside the body, and is never empty.
//
// Input layout: the first line is the Content-Type, the rest the body.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "serve/request_body.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto newline = input.find('\n');
  const std::string_view content_type = input.substr(0, newline);
  const std::string_view body =
      newline == std::string_view::npos ? std::string_view{} : input.substr(newline + 1);
  try {
    const std::string_view image = fer::serve::image_bytes(content_type, body);
    if (image.empty()) std::abort();
    if (image.data() < body.data() || image.data() + image.size() > body.data() + body.size())
      std::abort();
  } catch (const fer::serve::RequestError& e) {
    if (e.status() < 400 || e.status() > 499) std::abort();
  }
  fer::serve::header_parameter(content_type, "boundary");
  return 0;
}
