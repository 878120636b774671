#include "common/interrupt.hpp"

#include <signal.h>

#include <csignal>

namespace fer {
namespace {

volatile std::sig_atomic_t received_signal = 0;

extern "C" void record_signal(int signal) {
  received_signal = signal;
}

}  // namespace

void install_interrupt_handlers() {
  struct sigaction action {};
  action.sa_handler = record_signal;
  sigemptyset(&action.sa_mask);
  // Blocking reads and writes carry on; the handler is reset after the first signal,
  // so a second one is not ignored.
  action.sa_flags = SA_RESTART | SA_RESETHAND;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

int interrupt_signal() {
  return received_signal;
}

std::string signal_name(int signal) {
  if (signal == SIGINT) return "SIGINT";
  if (signal == SIGTERM) return "SIGTERM";
  return "signal " + std::to_string(signal);
}

void throw_if_interrupted(const std::string& where) {
  if (const int signal = received_signal)
    throw Interrupted("interrupted by " + signal_name(signal) + " at " + where);
}

}  // namespace fer
