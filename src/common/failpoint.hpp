#pragma once
// Fault injection for the `faults` test suite: a process stops or dies at a named
// point of its work, exactly there, instead of a test guessing with sleep and kill.
//   FER_FAILPOINT=PHASE:RANK:ACTION:EPOCH
//   PHASE   step | validation | upload (rank 0, right after a checkpoint is queued)
//           | commit (the coordinator, between an upload's verification and its rename)
//   ACTION  kill (SIGKILL itself) | stop (SIGSTOP itself, as a frozen process)
//   e.g. FER_FAILPOINT=validation:1:kill:2 kills rank 1 when it starts epoch 2's validation.
// Unset (always, outside the tests), failpoint() is one branch on a cached flag.

namespace fer {

void failpoint(const char* phase, int rank, int epoch);

}  // namespace fer
