#pragma once
// The image in a POST /v1/predict body: the body itself (Content-Type image/*,
// application/octet-stream, none, or curl's default application/x-www-form-urlencoded), or one part
// of a multipart/form-data body (the part named "image", else the first part with a file name, else
// the only part). Standard library only, so the fuzz target (tests/serve/fuzz_request_body.cpp)
// builds it with clang alone. Nothing is copied: the result points into the body.

#include <stdexcept>
#include <string>
#include <string_view>

namespace fer::serve {

// A request that cannot be answered with a prediction: the HTTP status to send (400,
// 415, ...) and a one-line reason for the JSON error.
class RequestError : public std::runtime_error {
 public:
  RequestError(int status, const std::string& message)
      : std::runtime_error(message), status_(status) {}
  int status() const { return status_; }

 private:
  int status_;
};

// Throws RequestError: 400 for an empty body or a malformed multipart body (no
// boundary, no closing delimiter, no image part), 415 for another content type.
std::string_view image_bytes(std::string_view content_type, std::string_view body);

// The value of parameter `name` in a header value ("multipart/form-data; boundary=x",
// "form-data; name=\"image\"; filename=\"a.jpg\""), quotes removed; "" when absent.
std::string header_parameter(std::string_view value, std::string_view name);

}  // namespace fer::serve
