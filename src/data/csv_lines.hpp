#pragma once
// The CSV dialect of the FER2013 files: one record per line, comma-separated,
// no commas inside fields, fields optionally in double quotes. Tolerates a UTF-8
// byte-order mark, CRLF line ends, whitespace around names and blank lines.

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fer {

struct CsvLines {
  std::string file_name;                  // for messages
  std::string text;                       // the whole file
  std::vector<std::string_view> lines;    // non-blank lines, [0] is the header, no CR/LF
  std::vector<std::size_t> line_numbers;  // 1-based line number of each entry of `lines`

  std::string where(std::size_t entry) const {
    return file_name + ":" + std::to_string(line_numbers[entry]);
  }
};

// Reads the file; throws InputError naming it when unreadable or empty.
CsvLines read_csv_lines(const std::filesystem::path& path, std::string_view expected_header);

// Strips whitespace and one pair of surrounding double quotes.
std::string_view csv_field(std::string_view field);

// Column positions by (case-insensitive) name.
class CsvHeader {
 public:
  CsvHeader(const CsvLines& csv, std::string_view expected_header);
  std::size_t column_count() const { return names_.size(); }
  std::optional<std::size_t> find(std::string_view name) const;
  // Throws InputError naming the file, the missing column and the expected header.
  std::size_t require(std::string_view name) const;

 private:
  std::string where_;
  std::string expected_;
  std::string found_;
  std::vector<std::string> names_;
};

}  // namespace fer
