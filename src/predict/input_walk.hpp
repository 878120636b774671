#pragma once
// Which files fer-predict classifies, in which order, and under which name their
// annotated copies go: image files named directly, directories walked recursively
// (image extensions only, hidden entries skipped, sorted by path so runs are
// repeatable), list files of paths, and paths read from standard input ("-").
// Nothing is opened here: a missing file named directly or in a list is kept, so that
// it is reported in its place among the results.

#include <filesystem>
#include <iosfwd>
#include <string>
#include <vector>

#include "data/image_files.hpp"  // has_image_extension, is_hidden_entry: one rule with fer-shard

namespace fer {

struct InputImage {
  std::filesystem::path path;      // what to open
  std::filesystem::path relative;  // name of its annotated copy under --annotate DIR
  std::string error;               // set when it could not even be listed (a directory)
};

struct InputSources {
  std::vector<std::string> arguments;   // files, directories, "-" (paths on standard input)
  std::vector<std::string> list_files;  // text files of paths ("-": standard input)
  // Not walked: the annotation output when it lies inside an input directory, so a
  // second run does not classify the first run's copies.
  std::filesystem::path exclude_directory;
};

// Paths from a list: one per line, surrounding whitespace trimmed, blank lines and lines
// starting with '#' skipped, relative paths taken from the current directory.
std::vector<std::string> read_path_list(std::istream& in);

// Expands `sources` into the images to classify. Throws InputError for a list file that
// cannot be read. Annotated names are made unique (a "-2" suffix before the extension).
std::vector<InputImage> collect_inputs(const InputSources& sources, std::istream& standard_input);

}  // namespace fer
