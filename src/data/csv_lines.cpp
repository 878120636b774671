#include "data/csv_lines.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>

#include "common/error.hpp"
#include "common/text.hpp"

namespace fer {

CsvLines read_csv_lines(const std::filesystem::path& path, std::string_view expected_header) {
  CsvLines csv;
  csv.file_name = path.string();
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw InputError(csv.file_name + ": cannot open: " + std::strerror(errno));
  const auto size = static_cast<std::size_t>(in.tellg());
  csv.text.resize(size);
  in.seekg(0);
  if (!in.read(csv.text.data(), static_cast<std::streamsize>(size)))
    throw InputError(csv.file_name + ": read error");

  std::string_view rest(csv.text);
  if (rest.substr(0, 3) == "\xEF\xBB\xBF") rest.remove_prefix(3);  // UTF-8 BOM
  std::size_t line_number = 0;
  while (!rest.empty()) {
    ++line_number;
    std::size_t end = rest.find('\n');
    std::string_view line = rest.substr(0, end);
    rest.remove_prefix(end == std::string_view::npos ? rest.size() : end + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (trim(line).empty()) continue;
    csv.lines.push_back(line);
    csv.line_numbers.push_back(line_number);
  }
  if (csv.lines.empty())
    throw InputError(csv.file_name + ": empty file; expected a header '" +
                     std::string(expected_header) + "' and data rows");
  return csv;
}

std::string_view csv_field(std::string_view field) {
  field = trim(field);
  if (field.size() >= 2 && field.front() == '"' && field.back() == '"')
    field = trim(field.substr(1, field.size() - 2));
  return field;
}

CsvHeader::CsvHeader(const CsvLines& csv, std::string_view expected_header)
    : where_(csv.where(0)), expected_(expected_header), found_(csv.lines[0]) {
  for (std::string_view name : split(csv.lines[0], ','))
    names_.push_back(to_lower(csv_field(name)));
}

std::optional<std::size_t> CsvHeader::find(std::string_view name) const {
  const std::string wanted = to_lower(name);
  for (std::size_t i = 0; i < names_.size(); ++i)
    if (names_[i] == wanted) return i;
  return std::nullopt;
}

std::size_t CsvHeader::require(std::string_view name) const {
  if (auto index = find(name)) return *index;
  throw InputError(where_ + ": header has no column '" + std::string(name) + "'; expected '" +
                   expected_ + "', found '" + found_ + "'");
}

}  // namespace fer
