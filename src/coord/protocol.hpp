#pragma once
// The coordinator's wire protocol: length-prefixed binary frames over TCP.
// Self-contained (the standard library only) so that the fuzz target builds it alone.
//
// Frame = 16-byte header + payload, every integer little-endian:
//   offset 0  u32  magic           0x43524546 ("FERC" in memory order)
//   offset 4  u16  version         kProtocolVersion; another version is refused at hello
//   offset 6  u16  type            MessageType
//   offset 8  u32  payload_length  at most kMaxPayloadBytes (checked before reading it)
//   offset 12 u32  reserved        0
//
// Payload encoding, field by field in the order the structs below declare them:
//   u8/u32/u64/i32/i64  fixed width, little-endian;  f64  IEEE-754 bits as u64
//   string / bytes      u32 length + that many bytes (strings: at most kMaxStringBytes)
//   i64 array           u32 count + count × i64
// A payload must be consumed exactly: a short one, trailing bytes, or a length that
// runs past the end is a ProtocolError, as is a bad magic, version, type or size.
//
// Conversation (the client speaks first; the server only answers):
//   1. client → Hello (run, rank, world size, host, pid, config hash, token);
//      server → Ack. Nothing else is accepted before an accepted Hello.
//   2. client → Heartbeat (never acknowledged), EvalReport, CheckpointBegin +
//      CheckpointChunk… + CheckpointEnd, Query, Abort. Every message with a `seq`
//      is answered by one Ack carrying that seq (for an upload: after its End).
//   3. After a dropped connection the client reconnects with backoff, says Hello
//      again and resends, in order, every message not yet acknowledged. The server
//      makes that safe: a report of a (run, split, epoch, rank) it already holds, or
//      a checkpoint it already stored with the same SHA-256, is acknowledged again
//      without changing anything (idempotent). A partial upload is discarded when
//      its connection drops; the client sends it again from the start.

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace fer::coord {

inline constexpr std::uint32_t kMagic = 0x43524546u;  // bytes "FERC"
inline constexpr std::uint16_t kProtocolVersion =
    2;  // 2: Hello carries run_secret, flags, retention
inline constexpr std::size_t kHeaderBytes = 16;
inline constexpr std::uint32_t kMaxPayloadBytes = 8u << 20;  // 8 MiB: a chunk plus framing
inline constexpr std::uint32_t kMaxStringBytes = 1u << 20;   // names, JSON blobs
inline constexpr std::size_t kCheckpointChunkBytes = 1u << 20;
inline constexpr std::uint32_t kMaxClasses = 64;

// A frame or payload that breaks the rules above. The server closes that connection
// with this message in its log and keeps serving everyone else.
class ProtocolError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class MessageType : std::uint16_t {
  kHello = 1,
  kHeartbeat = 2,
  kEvalReport = 3,
  kCheckpointBegin = 4,
  kCheckpointChunk = 5,
  kCheckpointEnd = 6,
  kQuery = 7,
  kAbort = 8,
  kAck = 9,
};
const char* message_type_name(MessageType type);

struct Hello {
  std::uint64_t seq = 0;
  std::string run;  // run id: [A-Za-z0-9._-], 1..128 characters, not starting with '.'
  std::uint32_t rank = 0;
  std::uint32_t world_size = 1;
  std::string host;
  std::uint32_t pid = 0;
  std::string config_hash;  // every rank of a run must send the same one
  std::string token;        // the server's shared secret; required off loopback
  // The first Hello of rank 0's process: 0 starts the run (refused when the run already
  // holds an epoch), N > 0 resumes it after epoch N (the server forgets the run's
  // metrics of later epochs, which the run will produce again; checkpoints of later
  // epochs only with kHelloDropLaterCheckpoints). -1: a reconnect or another rank.
  std::int32_t resume_epoch = -1;
  std::string run_config;  // rank 0: the run's effective configuration (config.yaml)
  // The run's own secret (runs/run_control.hpp): the Hello that starts a run sets it,
  // every later Hello of that run must carry it. Checked on loopback too.
  std::string run_secret;
  std::uint32_t flags = 0;  // kHello* bits
  // Rank 0's first Hello: the run's retention (checkpoint.keep_last, keep_best,
  // best_metric), which the server keeps the run with. keep_last 0: the server's own.
  std::int32_t keep_last = 0;
  std::int32_t keep_best = 0;
  std::string best_metric;
};
// Resuming from an older checkpoint than the run's latest deletes the later ones:
// only when the user asked for it (fer-train --drop-later-epochs).
inline constexpr std::uint32_t kHelloDropLaterCheckpoints = 1u << 0;

struct Heartbeat {
  std::uint32_t rank = 0;
  std::int32_t epoch = 0;
  std::int64_t step = 0;
};

struct EvalReport {
  std::uint64_t seq = 0;
  std::string split;  // "val", "test" or "train"
  std::int32_t epoch = 0;
  std::uint32_t rank = 0;
  std::uint32_t classes = 7;
  std::vector<std::int64_t> counts;  // classes × classes, row-major [truth][predicted]
  double loss_sum = 0;
  std::int64_t samples = 0;
  std::string extra_json;  // optional JSON object merged into the metrics line (rank 0)
};

struct CheckpointBegin {
  std::uint64_t seq = 0;  // acknowledged once the upload's End has been processed
  std::uint64_t upload_id = 0;
  std::int32_t epoch = 0;
  std::int64_t step = 0;
  std::uint64_t size = 0;
  std::string sha256;        // lower-case hex of the whole file
  std::string metrics_json;  // JSON object, e.g. {"val_accuracy":0.61,"val_loss":1.02}
};

struct CheckpointChunk {
  std::uint64_t upload_id = 0;
  std::uint64_t offset = 0;
  std::string_view data;  // points into the frame's buffer: valid while it is
};

struct CheckpointEnd {
  std::uint64_t upload_id = 0;
};

struct Query {
  std::uint64_t seq = 0;
  std::string what;  // "status" | "ranks" (heartbeat ages only) | "latest" | "best"
};

// The end of a rank's part in the run: an empty reason says the run finished
// normally (rank 0 sends it last); any other reason marks the run aborted with it.
struct Abort {
  std::uint64_t seq = 0;
  std::uint32_t rank = 0;
  std::string reason;
};

enum class AckStatus : std::uint8_t {
  kOk = 0,
  kRejected = 1,  // permanent: resending the same message cannot succeed
  kError = 2,     // the server failed (disk full, …); the client may retry later
};

struct Ack {
  std::uint64_t seq = 0;
  AckStatus status = AckStatus::kOk;
  std::string message;      // why, for anything but kOk
  std::string detail_json;  // query answers, aggregated metrics, stored checkpoint
};

using Message = std::variant<Hello, Heartbeat, EvalReport, CheckpointBegin, CheckpointChunk,
                             CheckpointEnd, Query, Abort, Ack>;

struct FrameHeader {
  MessageType type{};
  std::uint32_t payload_length = 0;
};

MessageType type_of(const Message& message);
// The sequence number a message asks to have acknowledged (0: none).
std::uint64_t seq_of(const Message& message);

// A whole frame (header + payload) ready to send.
std::string encode(const Message& message);
// Appends the frame to `out` (reused buffers: no allocation once it is large enough).
void encode_into(const Message& message, std::string& out);

// Checks the 16 header bytes; throws ProtocolError on a bad magic, version, type,
// reserved field or a payload longer than `max_payload`.
FrameHeader decode_header(const unsigned char* header,
                          std::uint32_t max_payload = kMaxPayloadBytes);
// The version of a header that is ours (magic "FERC") but of another protocol
// version; nullopt otherwise. Lets a side answer such a peer instead of just closing.
std::optional<std::uint16_t> foreign_protocol_version(const unsigned char* header);
// Decodes a payload of the given type. A CheckpointChunk's data views `payload`.
Message decode_payload(MessageType type, std::string_view payload);

// Splits a byte stream into messages; for tests, the fuzz target and blocking peers.
class FrameDecoder {
 public:
  explicit FrameDecoder(std::uint32_t max_payload = kMaxPayloadBytes) : max_payload_(max_payload) {}
  void feed(std::string_view bytes) { buffer_.append(bytes); }
  // The next complete message, or nullopt when more bytes are needed. Throws
  // ProtocolError as soon as the bytes cannot be a valid frame. A chunk's data stays
  // valid until the next call.
  std::optional<Message> next();
  std::size_t buffered() const { return buffer_.size() - consumed_; }

 private:
  std::uint32_t max_payload_;
  std::string buffer_;
  std::size_t consumed_ = 0;
  std::string current_;  // the payload the last message came from
};

// Run ids become directory names: letters, digits, '.', '_' and '-', 1..128
// characters, not starting with '.' (so never "..", never absolute, never hidden).
bool valid_run_id(std::string_view run);

}  // namespace fer::coord
