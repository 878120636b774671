#include "common/failpoint.hpp"

#include <signal.h>

#include <cstdlib>
#include <iostream>
#include <sstream>
#include <string>

namespace fer {
namespace {

struct Failpoint {
  bool armed = false;
  std::string phase, action;
  int rank = -1, epoch = -1;
};

Failpoint parse_environment() {
  Failpoint point;
  const char* text = std::getenv("FER_FAILPOINT");
  if (!text || !*text) return point;
  std::istringstream in(text);
  std::string rank, epoch;
  if (std::getline(in, point.phase, ':') && std::getline(in, rank, ':') &&
      std::getline(in, point.action, ':') && std::getline(in, epoch)) {
    try {
      point.rank = std::stoi(rank);
      point.epoch = std::stoi(epoch);
      point.armed = point.action == "kill" || point.action == "stop";
    } catch (const std::exception&) {
    }
  }
  if (!point.armed)
    std::cerr << "warning: FER_FAILPOINT='" << text
              << "' is not PHASE:RANK:kill|stop:EPOCH; ignored" << std::endl;
  return point;
}

}  // namespace

void failpoint(const char* phase, int rank, int epoch) {
  static const Failpoint point = parse_environment();
  if (!point.armed || rank != point.rank || epoch != point.epoch || point.phase != phase) return;
  std::cerr << "failpoint: " << phase << " of epoch " << epoch << " on rank " << rank << ": "
            << point.action << std::endl;
  ::raise(point.action == "kill" ? SIGKILL : SIGSTOP);
}

}  // namespace fer
