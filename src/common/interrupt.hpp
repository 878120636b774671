#pragma once
// Ctrl-C and SIGTERM (mpirun and Slurm forward both to every rank; Slurm sends
// SIGTERM before a job's time runs out) end a run cleanly instead of killing it: the
// handler only records the signal, and long loops call throw_if_interrupted() at
// points where stopping is safe, so the run's state is written as "aborted" with the
// reason on the way out. A second signal kills at once (the default action is back).

#include <stdexcept>
#include <string>

namespace fer {

class Interrupted : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Installs the handlers for SIGINT and SIGTERM (idempotent).
void install_interrupt_handlers();
// The signal received so far (SIGINT or SIGTERM), or 0.
int interrupt_signal();
// "SIGINT" / "SIGTERM" / "signal N".
std::string signal_name(int signal);
// Throws Interrupted ("interrupted by SIGTERM at WHERE") once a signal has arrived.
void throw_if_interrupted(const std::string& where);

}  // namespace fer
