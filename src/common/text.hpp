#pragma once
// Small string helpers used by the parsers.

#include <string>
#include <string_view>
#include <vector>

namespace fer {

std::string_view trim(std::string_view text);
std::string to_lower(std::string_view text);
// Splits on `separator`; keeps empty fields.
std::vector<std::string_view> split(std::string_view text, char separator);
// "12,345,678" style thousands separators for reports.
std::string with_thousands(long long value);
// `text` safe for one log line: control characters (newline, carriage return, escape,
// ...) and backslashes become \n, \r, \xNN, \\, so no client can forge log lines.
std::string printable(std::string_view text);

}  // namespace fer
