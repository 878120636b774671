#pragma once
// The shared shape of every executable's main(): run the tool, turn exceptions into
// a one-line message prefixed with the tool's name and the documented exit code.

#include <exception>
#include <functional>
#include <iostream>
#include <string>

#include "common/error.hpp"
#include "common/interrupt.hpp"

namespace fer {

// How a process of a multi-rank job names itself in messages ("rank 1/4"), and what
// it does after reporting an error that the other ranks do not know about: the
// process group installs a handler that aborts the whole job (MPI_Abort), so that no
// rank waits forever for one that failed. Both stay empty in a single process.
struct ToolProcess {
  std::string label;
  std::function<void(int exit_code)> on_unshared_failure;
};
inline ToolProcess& tool_process() {
  static ToolProcess process;
  return process;
}

inline int run_tool(const char* tool, const std::function<int()>& body) {
  const auto report = [&](const char* kind, const char* what, int code) {
    std::string prefix = tool;
    if (!tool_process().label.empty()) prefix += "[" + tool_process().label + "]";
    std::cerr << prefix << ": " << kind << ": " << what << std::endl;
    if (tool_process().on_unshared_failure) tool_process().on_unshared_failure(code);
    return code;
  };
  try {
    return body();
  } catch (const JobWideError& e) {
    if (e.report()) std::cerr << tool << ": error: " << e.what() << std::endl;
    return e.exit_code();
  } catch (const Interrupted& e) {
    return report("stopped", e.what(), kExitFailure);
  } catch (const InputError& e) {
    return report("error", e.what(), kExitInputError);
  } catch (const CorruptDataError& e) {
    return report("corrupt data", e.what(), kExitCorrupt);
  } catch (const std::exception& e) {
    return report("error", e.what(), kExitFailure);
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
