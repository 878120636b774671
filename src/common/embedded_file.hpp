#pragma once
// A file compiled into the binary (cmake/embed_files.cmake): its name and contents.
// Web pages live as real files under src/ and are embedded at build time.

#include <stdexcept>
#include <string>
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

// `page` from `files` as one self-contained document: each
// <link rel="stylesheet" href="F"> and <script src="F"></script> whose F is among
// `files` is replaced by the file's contents inline (for pages that must work with no
// second request, such as the coordinator's dashboard). Throws std::logic_error when
// `page` or an asset it names is missing (a build mistake).
inline std::string inline_page_assets(const std::vector<EmbeddedFile>& files,
                                      std::string_view page) {
  const EmbeddedFile* html = find_embedded(files, page);
  if (!html) throw std::logic_error("embedded page " + std::string(page) + " missing");
  std::string out(html->content);
  const auto replace = [&](const std::string& prefix, const std::string& suffix, const char* open,
                           const char* close) {
    for (std::size_t at = out.find(prefix); at != std::string::npos; at = out.find(prefix, at)) {
      const std::size_t name_start = at + prefix.size();
      const std::size_t name_end = out.find(suffix, name_start);
      if (name_end == std::string::npos) break;
      const std::string name = out.substr(name_start, name_end - name_start);
      const EmbeddedFile* asset = find_embedded(files, name);
      if (!asset)
        throw std::logic_error("embedded asset " + name + " of " + std::string(page) + " missing");
      const std::string inlined = std::string(open) + std::string(asset->content) + close;
      out.replace(at, name_end + suffix.size() - at, inlined);
      at += inlined.size();
    }
  };
  replace("<link rel=\"stylesheet\" href=\"", "\">", "<style>\n", "</style>");
  replace("<script src=\"", "\"></script>", "<script>\n", "</script>");
  return out;
}

}  // namespace fer
