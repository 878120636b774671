#include "serve/request_body.hpp"

#include <cctype>

namespace fer::serve {
namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// The media type without parameters, lower case: "multipart/form-data".
std::string media_type(std::string_view content_type) {
  return lower(trim(content_type.substr(0, content_type.find(';'))));
}

struct Part {
  std::string name, filename, content_type;
  std::string_view data;
};

// The value of header `name` (case-insensitive) in a part's header block.
std::string_view part_header(std::string_view headers, std::string_view name) {
  while (!headers.empty()) {
    const auto end = headers.find("\r\n");
    const std::string_view line = headers.substr(0, end);
    const auto colon = line.find(':');
    if (colon != std::string_view::npos && lower(trim(line.substr(0, colon))) == name)
      return trim(line.substr(colon + 1));
    if (end == std::string_view::npos) break;
    headers.remove_prefix(end + 2);
  }
  return {};
}

std::string_view multipart_image(std::string_view content_type, std::string_view body) {
  const std::string boundary = header_parameter(content_type, "boundary");
  // RFC 2046: 1 to 70 characters.
  if (boundary.empty() || boundary.size() > 70)
    throw RequestError(400, "multipart/form-data without a valid boundary parameter");
  const std::string delimiter = "--" + boundary;
  const std::string next_delimiter = "\r\n" + delimiter;
  // The body starts with the first delimiter (anything before it is a preamble).
  std::size_t position;
  if (body.substr(0, delimiter.size()) == delimiter) {
    position = delimiter.size();
  } else {
    const auto first = body.find(next_delimiter);
    if (first == std::string_view::npos)
      throw RequestError(400, "multipart body without its boundary");
    position = first + next_delimiter.size();
  }
  Part named, with_file, first;
  int parts = 0;
  bool closed = false;
  while (position <= body.size()) {
    const std::string_view rest = body.substr(position);
    if (rest.substr(0, 2) == "--") {  // the closing delimiter
      closed = true;
      break;
    }
    // Transport padding, then the line break that ends the delimiter line.
    const auto line_end = rest.find("\r\n");
    if (line_end == std::string_view::npos) break;
    if (!trim(rest.substr(0, line_end)).empty())
      throw RequestError(400, "multipart body: text after a boundary on its line");
    const std::string_view after = rest.substr(line_end + 2);
    const auto headers_end = after.find("\r\n\r\n");
    const bool no_headers = after.substr(0, 2) == "\r\n";
    if (headers_end == std::string_view::npos && !no_headers)
      throw RequestError(400, "multipart body: a part's headers do not end");
    const std::string_view headers = no_headers ? std::string_view{} : after.substr(0, headers_end);
    const std::string_view content = after.substr(no_headers ? 2 : headers_end + 4);
    const auto content_end = content.find(next_delimiter);
    if (content_end == std::string_view::npos)
      throw RequestError(400, "multipart body ends without its closing boundary");
    Part part;
    const std::string_view disposition = part_header(headers, "content-disposition");
    part.name = header_parameter(disposition, "name");
    part.filename = header_parameter(disposition, "filename");
    part.content_type = std::string(part_header(headers, "content-type"));
    part.data = content.substr(0, content_end);
    if (parts == 0) first = part;
    if (part.name == "image" && named.data.data() == nullptr) named = part;
    if (!part.filename.empty() && with_file.data.data() == nullptr) with_file = part;
    ++parts;
    // Continue after this part's delimiter: position of content_end in body + delimiter.
    position = static_cast<std::size_t>(content.data() - body.data()) + content_end +
               next_delimiter.size();
  }
  if (!closed) throw RequestError(400, "multipart body ends without its closing boundary");
  const Part* chosen = named.data.data()       ? &named
                       : with_file.data.data() ? &with_file
                       : parts == 1            ? &first
                                               : nullptr;
  if (chosen == nullptr)
    throw RequestError(400, parts == 0 ? "multipart body without a part"
                                       : "multipart body: no part named \"image\" and no file part "
                                         "among " +
                                             std::to_string(parts));
  if (chosen->data.empty()) throw RequestError(400, "the image part is empty");
  return chosen->data;
}

}  // namespace

std::string header_parameter(std::string_view value, std::string_view name) {
  const std::string wanted = lower(name);
  std::size_t position = value.find(';');
  while (position != std::string_view::npos && position < value.size()) {
    std::string_view rest = value.substr(position + 1);
    // The parameter's value may be quoted and hold ';'.
    const auto equals = rest.find('=');
    if (equals == std::string_view::npos) return "";
    const std::string key = lower(trim(rest.substr(0, equals)));
    std::string_view raw = rest.substr(equals + 1);
    while (!raw.empty() && (raw.front() == ' ' || raw.front() == '\t')) raw.remove_prefix(1);
    std::string parsed;
    std::size_t consumed;
    if (!raw.empty() && raw.front() == '"') {
      std::size_t i = 1;
      for (; i < raw.size() && raw[i] != '"'; ++i) {
        if (raw[i] == '\\' && i + 1 < raw.size()) ++i;
        parsed += raw[i];
      }
      consumed = std::min(i + 1, raw.size());
    } else {
      const auto end = raw.find(';');
      parsed = std::string(trim(raw.substr(0, end)));
      consumed = end == std::string_view::npos ? raw.size() : end;
    }
    if (key == wanted) return parsed;
    const std::size_t next_base = static_cast<std::size_t>(raw.data() - value.data()) + consumed;
    position = value.find(';', next_base);
  }
  return "";
}

std::string_view image_bytes(std::string_view content_type, std::string_view body) {
  const std::string type = media_type(content_type);
  if (type == "multipart/form-data") return multipart_image(content_type, body);
  // curl --data-binary sends application/x-www-form-urlencoded unless told otherwise:
  // its body is the file as it is, so it is taken as the image too.
  if (!type.empty() && type != "application/octet-stream" &&
      type != "application/x-www-form-urlencoded" && type.rfind("image/", 0) != 0)
    throw RequestError(415, "Content-Type " + type +
                                ": send the image itself (image/* or application/octet-stream) "
                                "or multipart/form-data with a part named \"image\"");
  if (body.empty()) throw RequestError(400, "empty body: POST the image's bytes");
  return body;
}

}  // namespace fer::serve
