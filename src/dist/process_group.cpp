#include "dist/process_group.hpp"

#include <mpi.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iostream>

#include "common/tool_main.hpp"
#include "dist/polling.hpp"

namespace fer {
namespace {

using Clock = std::chrono::steady_clock;

// The diagnosis exchange after a timeout: how long to listen for the other ranks,
// and the longest "where I am" text sent.
constexpr double kDiagnosisGraceSeconds = 5.0;
constexpr int kDiagnosisBytes = 512;
constexpr int kDiagnosisTag = 7;

std::string mpi_error_text(int code) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  return std::string(text, static_cast<std::size_t>(length));
}

// MPI calls return codes (the communicators use MPI_ERRORS_RETURN); a failure is
// the job's end, reported with the call and the collective it served.
void check_mpi(int code, const char* call, const std::string& what) {
  if (code != MPI_SUCCESS)
    throw DistributedError(std::string(call) + " failed during " + what + ": " +
                           mpi_error_text(code));
}

MPI_Datatype mpi_type(ElementType type) {
  switch (type) {
    case ElementType::kFloat32:
      return MPI_FLOAT;
    case ElementType::kFloat64:
      return MPI_DOUBLE;
    case ElementType::kInt64:
      return MPI_INT64_T;
  }
  return MPI_DATATYPE_NULL;
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace

struct PendingCollective::Request {
  MPI_Request handle = MPI_REQUEST_NULL;
  // Scratch the collective works on (for broadcast sizes and gathers).
  std::vector<char> scratch;
};

struct ProcessGroup::Communicators {
  MPI_Comm world = MPI_COMM_NULL;      // collectives
  MPI_Comm diagnosis = MPI_COMM_NULL;  // "where are you" after a timeout
};

// ---------------------------------------------------------------------------
// PendingCollective
// ---------------------------------------------------------------------------

PendingCollective::PendingCollective() = default;
PendingCollective::PendingCollective(ProcessGroup* group, std::unique_ptr<Request> request,
                                     std::string what, std::uint64_t index)
    : group_(group), request_(std::move(request)), what_(std::move(what)), index_(index) {}
PendingCollective::PendingCollective(PendingCollective&&) noexcept = default;
PendingCollective& PendingCollective::operator=(PendingCollective&&) noexcept = default;
// An incomplete MPI collective cannot be cancelled; it only stays incomplete on the
// way to an abort, so its request is simply dropped.
PendingCollective::~PendingCollective() = default;

bool PendingCollective::test() {
  if (!request_) return true;
  if (request_->handle == MPI_REQUEST_NULL) return true;
  int done = 0;
  check_mpi(MPI_Test(&request_->handle, &done, MPI_STATUS_IGNORE), "MPI_Test", what_);
  return done != 0;
}

void PendingCollective::wait() {
  if (!request_) return;
  group_->wait_for(*request_, what_, index_);
  request_.reset();
}

// ---------------------------------------------------------------------------
// ProcessGroup
// ---------------------------------------------------------------------------

bool ProcessGroup::launched_by_mpi() {
  for (const char* variable : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"})
    if (std::getenv(variable)) return true;
  return false;
}

ProcessGroup::ProcessGroup(int* argc, char*** argv) : comms_(std::make_unique<Communicators>()) {
  char name[256] = {};
  gethostname(name, sizeof name - 1);
  host_ = name;
  if (!launched_by_mpi()) return;

  int provided = 0;
  // Serialized: the trainer calls MPI from one thread at a time (gradient hooks run
  // on the training thread for CPU tensors).
  if (MPI_Init_thread(argc, argv, MPI_THREAD_SERIALIZED, &provided) != MPI_SUCCESS)
    throw DistributedError("MPI_Init_thread failed (started by an MPI launcher: " +
                           std::string(std::getenv("OMPI_COMM_WORLD_SIZE") ? "mpirun" : "PMI") +
                           ")");
  mpi_ = true;
  MPI_Comm_dup(MPI_COMM_WORLD, &comms_->world);
  MPI_Comm_dup(MPI_COMM_WORLD, &comms_->diagnosis);
  // Errors come back as codes and become exceptions with context, instead of MPI's
  // default of killing the job with a generic message.
  MPI_Comm_set_errhandler(comms_->world, MPI_ERRORS_RETURN);
  MPI_Comm_set_errhandler(comms_->diagnosis, MPI_ERRORS_RETURN);
  MPI_Comm_rank(comms_->world, &rank_);
  MPI_Comm_size(comms_->world, &size_);
  MPI_Comm node = MPI_COMM_NULL;
  MPI_Comm_split_type(comms_->world, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node);
  MPI_Comm_rank(node, &local_rank_);
  MPI_Comm_size(node, &local_size_);
  MPI_Comm_free(&node);
  if (provided < MPI_THREAD_SERIALIZED)
    throw DistributedError("this MPI library gives thread level " + std::to_string(provided) +
                           ", fer needs MPI_THREAD_SERIALIZED");

  if (size_ > 1) {
    tool_process().label = label();
    // An error only this rank knows about ends the whole job, so that nobody waits
    // for this rank until the deadline.
    tool_process().on_unshared_failure = [this](int exit_code) { abort(exit_code); };
  }
}

ProcessGroup::~ProcessGroup() {
  tool_process().on_unshared_failure = nullptr;
  if (!mpi_) return;
  MPI_Comm_free(&comms_->diagnosis);
  MPI_Comm_free(&comms_->world);
  MPI_Finalize();
}

std::string ProcessGroup::label() const {
  return "rank " + std::to_string(rank_) + "/" + std::to_string(size_) + " on " + host_;
}

void ProcessGroup::abort(int exit_code) {
  std::cout.flush();
  std::cerr.flush();
  if (mpi_) MPI_Abort(MPI_COMM_WORLD, exit_code);
  std::_Exit(exit_code);
}

void ProcessGroup::wait_for(PendingCollective::Request& request, const std::string& what,
                            std::uint64_t index) {
  if (request.handle == MPI_REQUEST_NULL) return;
  const auto start = Clock::now();
  auto next_liveness_check = start + std::chrono::seconds(1);
  int code = MPI_SUCCESS;
  const bool done = poll_until(
      [&] {
        int finished = 0;
        code = MPI_Test(&request.handle, &finished, MPI_STATUS_IGNORE);
        if (code != MPI_SUCCESS || finished != 0) return true;
        if (const auto now = Clock::now(); now >= next_liveness_check) {
          next_liveness_check = now + std::chrono::seconds(1);
          check_liveness(what, seconds_since(start));
        }
        return false;
      },
      timeout_seconds_);
  check_mpi(code, "MPI_Test", what);
  if (!done) fail_after_timeout(what, index, seconds_since(start));
}

void ProcessGroup::check_liveness(const std::string& what, double waited_seconds) {
  if (!liveness_check_) return;
  const std::string stalled = liveness_check_();
  if (stalled.empty()) return;
  char waited[32];
  std::snprintf(waited, sizeof waited, "%.0f", waited_seconds);
  throw DistributedError(stalled + "; this rank gave up waiting in '" + what + "' after " + waited +
                         " s (dist.stall_seconds; dist.timeout_seconds would be " +
                         std::to_string(static_cast<int>(timeout_seconds_)) + ")");
}

void ProcessGroup::fail_after_timeout(const std::string& what, std::uint64_t index,
                                      double waited_seconds) {
  // Every rank stuck in a collective gets here at about the same time: each tells
  // every other rank which collective it waits in, then listens for a moment.
  std::string mine = std::to_string(index) + "\n" + what;
  mine.resize(std::min<std::size_t>(mine.size(), kDiagnosisBytes - 1));
  std::vector<MPI_Request> sends(static_cast<std::size_t>(size_), MPI_REQUEST_NULL);
  std::vector<MPI_Request> receives(static_cast<std::size_t>(size_), MPI_REQUEST_NULL);
  std::vector<std::vector<char>> answers(static_cast<std::size_t>(size_),
                                         std::vector<char>(kDiagnosisBytes, '\0'));
  for (int peer = 0; peer < size_; ++peer) {
    if (peer == rank_) continue;
    const auto p = static_cast<std::size_t>(peer);
    MPI_Isend(mine.data(), static_cast<int>(mine.size()), MPI_CHAR, peer, kDiagnosisTag,
              comms_->diagnosis, &sends[p]);
    MPI_Irecv(answers[p].data(), kDiagnosisBytes - 1, MPI_CHAR, peer, kDiagnosisTag,
              comms_->diagnosis, &receives[p]);
  }
  std::vector<bool> answered(static_cast<std::size_t>(size_), false);
  answered[static_cast<std::size_t>(rank_)] = true;
  poll_until(
      [&] {
        bool all = true;
        for (int peer = 0; peer < size_; ++peer) {
          const auto p = static_cast<std::size_t>(peer);
          if (answered[p]) continue;
          int finished = 0;
          if (MPI_Test(&receives[p], &finished, MPI_STATUS_IGNORE) == MPI_SUCCESS && finished)
            answered[p] = true;
          else
            all = false;
        }
        return all;
      },
      std::min(kDiagnosisGraceSeconds, timeout_seconds_));

  char waited[32];
  std::snprintf(waited, sizeof waited, "%.0f", waited_seconds);
  std::string missing, elsewhere, same;
  for (int peer = 0; peer < size_; ++peer) {
    const auto p = static_cast<std::size_t>(peer);
    if (peer == rank_) continue;
    if (!answered[p]) {
      missing += (missing.empty() ? "" : ", ") + std::to_string(peer);
      continue;
    }
    const std::string answer(answers[p].data());
    const auto newline = answer.find('\n');
    const std::string their_index = answer.substr(0, newline);
    const std::string their_what = newline == std::string::npos ? "" : answer.substr(newline + 1);
    if (their_index == std::to_string(index))
      same += (same.empty() ? "" : ", ") + std::to_string(peer);
    else
      elsewhere += "; rank " + std::to_string(peer) + " is waiting in '" + their_what +
                   "' (collective #" + their_index + ")";
  }
  std::string message = "timed out after " + std::string(waited) +
                        " s (dist.timeout_seconds) in '" + what + "' (collective #" +
                        std::to_string(index) + ")";
  if (!missing.empty())
    message += ": no word from rank" +
               std::string(missing.find(',') == std::string::npos ? " " : "s ") + missing +
               " (stalled, dead, or still computing)";
  if (!same.empty()) message += "; waiting at the same point: rank(s) " + same;
  message += elsewhere;
  throw DistributedError(message);
}

PendingCollective ProcessGroup::start_all_reduce_sum(void* data, std::size_t count,
                                                     ElementType type, const std::string& what) {
  auto request = std::make_unique<PendingCollective::Request>();
  const std::uint64_t index = ++collectives_started_;
  if (mpi_ && size_ > 1)
    check_mpi(MPI_Iallreduce(MPI_IN_PLACE, data, static_cast<int>(count), mpi_type(type), MPI_SUM,
                             comms_->world, &request->handle),
              "MPI_Iallreduce", what);
  return PendingCollective(this, std::move(request), what, index);
}

void ProcessGroup::all_reduce_sum(std::int64_t* data, std::size_t count, const std::string& what) {
  start_all_reduce_sum(data, count, ElementType::kInt64, what).wait();
}

void ProcessGroup::all_reduce_sum(double* data, std::size_t count, const std::string& what) {
  start_all_reduce_sum(data, count, ElementType::kFloat64, what).wait();
}

void ProcessGroup::barrier(const std::string& what) {
  if (!mpi_ || size_ == 1) return;
  PendingCollective::Request request;
  const std::uint64_t index = ++collectives_started_;
  check_mpi(MPI_Ibarrier(comms_->world, &request.handle), "MPI_Ibarrier", what);
  wait_for(request, what, index);
}

void ProcessGroup::broadcast(void* data, std::size_t bytes, int root, const std::string& what) {
  if (!mpi_ || size_ == 1) return;
  PendingCollective::Request request;
  const std::uint64_t index = ++collectives_started_;
  check_mpi(
      MPI_Ibcast(data, static_cast<int>(bytes), MPI_BYTE, root, comms_->world, &request.handle),
      "MPI_Ibcast", what);
  wait_for(request, what, index);
}

void ProcessGroup::broadcast(std::string& bytes, int root, const std::string& what) {
  if (!mpi_ || size_ == 1) return;
  std::uint64_t size = bytes.size();
  broadcast(&size, sizeof size, root, what + " (size)");
  bytes.resize(size);
  broadcast(bytes.data(), bytes.size(), root, what);
}

std::vector<std::string> ProcessGroup::gather(const std::string& mine, int root,
                                              const std::string& what) {
  if (!mpi_ || size_ == 1) return {mine};
  int length = static_cast<int>(mine.size());
  std::vector<int> lengths(static_cast<std::size_t>(size_), 0);
  {
    PendingCollective::Request request;
    const std::uint64_t index = ++collectives_started_;
    check_mpi(MPI_Igather(&length, 1, MPI_INT, lengths.data(), 1, MPI_INT, root, comms_->world,
                          &request.handle),
              "MPI_Igather", what);
    wait_for(request, what + " (lengths)", index);
  }
  std::vector<int> offsets(static_cast<std::size_t>(size_), 0);
  for (std::size_t i = 1; i < offsets.size(); ++i) offsets[i] = offsets[i - 1] + lengths[i - 1];
  std::vector<char> all(static_cast<std::size_t>(offsets.back() + lengths.back()) + 1);
  PendingCollective::Request request;
  const std::uint64_t index = ++collectives_started_;
  check_mpi(MPI_Igatherv(mine.data(), length, MPI_CHAR, all.data(), lengths.data(), offsets.data(),
                         MPI_CHAR, root, comms_->world, &request.handle),
            "MPI_Igatherv", what);
  wait_for(request, what, index);
  if (rank_ != root) return {};
  std::vector<std::string> result;
  for (std::size_t i = 0; i < lengths.size(); ++i)
    result.emplace_back(all.data() + offsets[i], static_cast<std::size_t>(lengths[i]));
  return result;
}

}  // namespace fer
