#pragma once
// The shared shape of every executable's main(): run the tool, turn exceptions into
// a one-line message prefixed with the tool's name and the documented exit code.

#include <exception>
#include <functional>
#include <iostream>
#include <string>

#include "common/error.hpp"

namespace fer {

inline int run_tool(const char* tool, const std::function<int()>& body) {
  try {
    return body();
  } catch (const InputError& e) {
    std::cerr << tool << ": error: " << e.what() << "\n";
    return kExitInputError;
  } catch (const CorruptDataError& e) {
    std::cerr << tool << ": corrupt data: " << e.what() << "\n";
    return kExitCorrupt;
  } catch (const std::exception& e) {
    std::cerr << tool << ": error: " << e.what() << "\n";
    return kExitFailure;
  }
}

// The command line as one string, for provenance records.
inline std::string command_line(int argc, char** argv) {
  std::string line;
  for (int i = 0; i < argc; ++i) {
    if (i) line += ' ';
    line += argv[i];
  }
  return line;
}

}  // namespace fer
