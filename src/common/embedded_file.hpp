#pragma once
// A file compiled into the binary (cmake/embed_files.cmake): its name and contents.
// Web pages live as real files under src/ and are embedded at build time.

#include <string_view>
#include <vector>

namespace fer {

struct EmbeddedFile {
  std::string_view name;     // "index.html"
  std::string_view content;  // the file's bytes
};

// The file called `name` in `files`, or nullptr.
inline const EmbeddedFile* find_embedded(const std::vector<EmbeddedFile>& files,
                                         std::string_view name) {
  for (const EmbeddedFile& file : files)
    if (file.name == name) return &file;
  return nullptr;
}

}  // namespace fer
