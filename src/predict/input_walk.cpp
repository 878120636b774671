#include "predict/input_walk.hpp"

#include <algorithm>
#include <array>
#include <fstream>
#include <istream>
#include <set>

#include "common/error.hpp"
#include "common/text.hpp"

namespace fer {
namespace fs = std::filesystem;

namespace {

// A relative path that stays below the current directory keeps its folders in the
// annotation directory; anything else (absolute, "../x") keeps only its file name.
fs::path annotation_name(const fs::path& path) {
  const fs::path normal = path.lexically_normal();
  if (normal.is_relative() && !normal.empty() && *normal.begin() != ".." && normal != ".")
    return normal;
  return path.filename();
}

class InputCollector {
 public:
  explicit InputCollector(const fs::path& exclude_directory) {
    std::error_code ec;
    if (!exclude_directory.empty()) exclude_ = fs::weakly_canonical(exclude_directory, ec);
  }

  void add(const std::string& argument) {
    const fs::path path(argument);
    std::error_code ec;
    if (fs::is_directory(path, ec))
      add_directory(path);
    else
      add_file(path, annotation_name(path));
  }

  std::vector<InputImage> take() { return std::move(inputs_); }

 private:
  void add_directory(const fs::path& root) {
    std::vector<fs::path> files;
    std::error_code ec;
    fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied, ec);
    if (ec) {
      InputImage failed{root, annotation_name(root), "cannot list directory: " + ec.message()};
      inputs_.push_back(std::move(failed));
      return;
    }
    for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (ec) break;
      const fs::path& path = it->path();
      const bool directory = it->is_directory(ec);
      if (is_hidden_entry(path) || (directory && is_excluded(path))) {
        if (directory) it.disable_recursion_pending();
        continue;
      }
      if (!directory && it->is_regular_file(ec) && has_image_extension(path)) files.push_back(path);
    }
    std::sort(files.begin(), files.end());
    for (const fs::path& file : files) add_file(file, file.lexically_relative(root));
  }

  bool is_excluded(const fs::path& directory) const {
    std::error_code ec;
    return !exclude_.empty() && fs::weakly_canonical(directory, ec) == exclude_;
  }

  // Two inputs never share an annotated copy: "a.jpg", "a-2.jpg", "a-3.jpg", ...
  void add_file(const fs::path& path, fs::path relative) {
    fs::path unique = relative;
    for (int n = 2; !used_names_.insert(unique.string()).second; ++n)
      unique = relative.parent_path() /
               (relative.stem().string() + "-" + std::to_string(n) + relative.extension().string());
    inputs_.push_back(InputImage{path, unique, {}});
  }

  fs::path exclude_;
  std::set<std::string> used_names_;
  std::vector<InputImage> inputs_;
};

}  // namespace

std::vector<std::string> read_path_list(std::istream& in) {
  std::vector<std::string> paths;
  std::string line;
  while (std::getline(in, line)) {
    const std::string_view entry = trim(line);
    if (entry.empty() || entry[0] == '#') continue;
    paths.emplace_back(entry);
  }
  return paths;
}

std::vector<InputImage> collect_inputs(const InputSources& sources, std::istream& standard_input) {
  InputCollector collector(sources.exclude_directory);
  const auto add_list = [&](std::istream& list) {
    for (const std::string& path : read_path_list(list)) collector.add(path);
  };
  for (const std::string& argument : sources.arguments) {
    if (argument == "-")
      add_list(standard_input);
    else
      collector.add(argument);
  }
  for (const std::string& list_file : sources.list_files) {
    if (list_file == "-") {
      add_list(standard_input);
      continue;
    }
    std::ifstream list(list_file);
    if (!list) throw InputError("--list " + list_file + ": cannot open the list file");
    add_list(list);
    if (list.bad()) throw InputError("--list " + list_file + ": read error");
  }
  return collector.take();
}

}  // namespace fer
