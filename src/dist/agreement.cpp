#include "dist/agreement.hpp"

#include <sstream>

#include "common/error.hpp"

namespace fer {
namespace {

std::vector<std::string> lines_with_context(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream stream(text);
  std::string line, section;
  while (std::getline(stream, line)) {
    if (!line.empty() && line[0] != ' ') {
      section = line.substr(0, line.find(':'));
      lines.push_back(line);
      continue;
    }
    const auto first = line.find_first_not_of(' ');
    const std::string trimmed = first == std::string::npos ? "" : line.substr(first);
    lines.push_back(section.empty() ? trimmed : section + "." + trimmed);
  }
  return lines;
}

}  // namespace

std::string describe_differences(const std::string& reference, const std::string& mine, int limit) {
  if (reference == mine) return "";
  const auto a = lines_with_context(reference);
  const auto b = lines_with_context(mine);
  std::string text;
  int shown = 0;
  const std::size_t n = std::max(a.size(), b.size());
  for (std::size_t i = 0; i < n && shown < limit; ++i) {
    const std::string ours = i < b.size() ? b[i] : "(no line)";
    const std::string theirs = i < a.size() ? a[i] : "(no line)";
    if (ours == theirs) continue;
    text += (shown ? "; " : "") + ("'" + ours + "' where rank 0 has '" + theirs + "'");
    ++shown;
  }
  if (shown == 0) text = "the texts differ in length or line endings";
  return text;
}

void all_or_nothing(ProcessGroup& group, const std::string& what, const std::function<void()>& step,
                    bool root_only) {
  if (group.size() == 1) {
    step();
    return;
  }
  int code = kExitOk;
  std::string message;
  if (!root_only || group.rank() == 0) {
    try {
      step();
    } catch (const JobWideError&) {
      throw;
    } catch (const InputError& e) {
      code = kExitInputError;
      message = e.what();
    } catch (const CorruptDataError& e) {
      code = kExitCorrupt;
      message = std::string("corrupt data: ") + e.what();
    } catch (const std::exception& e) {
      code = kExitFailure;
      message = e.what();
    }
  }
  // [rank] = exit code of every rank (0: fine), known to all ranks.
  std::vector<std::int64_t> codes(static_cast<std::size_t>(group.size()), 0);
  codes[static_cast<std::size_t>(group.rank())] = code;
  group.all_reduce_sum(codes.data(), codes.size(), what + " (outcome)");
  int first_failure = -1;
  for (std::size_t rank = 0; rank < codes.size() && first_failure < 0; ++rank)
    if (codes[rank] != kExitOk) first_failure = static_cast<int>(rank);
  if (first_failure < 0) return;
  const auto messages = group.gather(message, 0, what + " (messages)");
  std::string report;
  // When every rank failed the same way, say it once.
  bool identical = true;
  for (const auto& m : messages) identical = identical && m == messages.front();
  if (identical && !messages.empty()) {
    report = messages.front();
  } else {
    for (std::size_t rank = 0; rank < messages.size(); ++rank)
      if (!messages[rank].empty())
        report +=
            (report.empty() ? "" : "\n") + ("rank " + std::to_string(rank) + ": " + messages[rank]);
  }
  throw JobWideError(report, static_cast<int>(codes[static_cast<std::size_t>(first_failure)]),
                     group.rank() == 0);
}

void check_agreement(ProcessGroup& group, const std::vector<AgreementItem>& items) {
  if (group.size() == 1) return;
  std::string differences;
  for (const AgreementItem& item : items) {
    std::string reference = item.text;
    group.broadcast(reference, 0, "startup agreement on the " + item.name);
    const std::string difference = describe_differences(reference, item.text);
    if (!difference.empty()) differences += "\n    " + item.name + ": " + difference;
  }
  std::int64_t disagreeing = differences.empty() ? 0 : 1;
  group.all_reduce_sum(&disagreeing, 1, "startup agreement (result)");
  if (disagreeing == 0) return;
  const auto reports = group.gather(differences, 0, "startup agreement (differences)");
  std::string message;
  for (std::size_t rank = 0; rank < reports.size(); ++rank)
    if (!reports[rank].empty())
      message += "\n  rank " + std::to_string(rank) + " disagrees with rank 0:" + reports[rank];
  throw JobWideError(std::to_string(disagreeing) + " of " + std::to_string(group.size()) +
                         " ranks disagree with rank 0; every rank must run the same "
                         "configuration, model and data" +
                         message,
                     kExitInputError, group.rank() == 0);
}

}  // namespace fer
