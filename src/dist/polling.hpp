#pragma once
// Waiting on another rank without hanging and without burning the CPU: poll a
// completion test until it succeeds or a deadline passes.

#include <algorithm>
#include <chrono>
#include <thread>

namespace fer {

// Polls `done` with a backoff: spinning first (collectives on one node finish in
// microseconds), then sleeps growing to 1 ms, so that a rank waiting for a slower
// one leaves the CPU to its own loader threads. False when the deadline passed.
template <typename Done>
bool poll_until(Done done, double deadline_seconds) {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  auto pause = std::chrono::microseconds(0);
  for (int spins = 0;; ++spins) {
    if (done()) return true;
    if (std::chrono::duration<double>(Clock::now() - start).count() > deadline_seconds)
      return false;
    if (spins > 200) {
      pause = std::min(std::chrono::microseconds(1000),
                       pause + std::chrono::microseconds(pause.count() / 2 + 20));
      std::this_thread::sleep_for(pause);
    }
  }
}

}  // namespace fer
