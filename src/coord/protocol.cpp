#include "coord/protocol.hpp"

#include <cstring>
#include <type_traits>

namespace fer::coord {
namespace {

// One description of each message's fields serves both directions: the Writer
// and the Reader below are passed in as `io` (no encoder/decoder pair to drift apart).
template <class Io, class M>
void fields(Io& io, M& m);

template <class Io>
void fields(Io& io, Hello& m) {
  io(m.seq), io(m.run), io(m.rank), io(m.world_size), io(m.host), io(m.pid), io(m.config_hash),
      io(m.token), io(m.resume_epoch), io(m.run_config), io(m.run_secret), io(m.flags),
      io(m.keep_last), io(m.keep_best), io(m.best_metric);
}
template <class Io>
void fields(Io& io, Heartbeat& m) {
  io(m.rank), io(m.epoch), io(m.step);
}
template <class Io>
void fields(Io& io, EvalReport& m) {
  io(m.seq), io(m.split), io(m.epoch), io(m.rank), io(m.classes), io(m.counts), io(m.loss_sum),
      io(m.samples), io(m.extra_json);
}
template <class Io>
void fields(Io& io, CheckpointBegin& m) {
  io(m.seq), io(m.upload_id), io(m.epoch), io(m.step), io(m.size), io(m.sha256), io(m.metrics_json);
}
template <class Io>
void fields(Io& io, CheckpointChunk& m) {
  io(m.upload_id), io(m.offset), io(m.data);
}
template <class Io>
void fields(Io& io, CheckpointEnd& m) {
  io(m.upload_id);
}
template <class Io>
void fields(Io& io, Query& m) {
  io(m.seq), io(m.what);
}
template <class Io>
void fields(Io& io, Abort& m) {
  io(m.seq), io(m.rank), io(m.reason);
}
template <class Io>
void fields(Io& io, Ack& m) {
  io(m.seq), io(m.status), io(m.message), io(m.detail_json);
}

template <class T>
void put_le(std::string& out, T value) {
  using U = std::make_unsigned_t<T>;
  auto bits = static_cast<U>(value);
  char bytes[sizeof(T)];
  for (std::size_t i = 0; i < sizeof(T); ++i)
    bytes[i] = static_cast<char>((bits >> (8 * i)) & 0xff);
  out.append(bytes, sizeof(T));
}

template <class T>
T get_le(const unsigned char* p) {
  using U = std::make_unsigned_t<T>;
  U bits = 0;
  for (std::size_t i = 0; i < sizeof(T); ++i) bits |= static_cast<U>(U(p[i]) << (8 * i));
  return static_cast<T>(bits);
}

struct Writer {
  std::string& out;
  template <class T>
  std::enable_if_t<std::is_integral_v<T>> operator()(const T& v) {
    put_le(out, v);
  }
  void operator()(const double& v) {
    std::uint64_t bits;
    std::memcpy(&bits, &v, sizeof bits);
    put_le(out, bits);
  }
  void operator()(const AckStatus& v) { put_le(out, static_cast<std::uint8_t>(v)); }
  void operator()(const std::string& v) { (*this)(std::string_view(v)); }
  void operator()(const std::string_view& v) {
    put_le(out, static_cast<std::uint32_t>(v.size()));
    out.append(v.data(), v.size());
  }
  void operator()(const std::vector<std::int64_t>& v) {
    put_le(out, static_cast<std::uint32_t>(v.size()));
    for (std::int64_t x : v) put_le(out, x);
  }
};

struct Reader {
  std::string_view in;
  std::size_t at = 0;
  const char* what;

  const unsigned char* take(std::size_t n) {
    if (n > in.size() - at)
      throw ProtocolError(std::string(what) + " payload: needs " + std::to_string(n) +
                          " more bytes at offset " + std::to_string(at) + ", has " +
                          std::to_string(in.size() - at));
    const auto* p = reinterpret_cast<const unsigned char*>(in.data() + at);
    at += n;
    return p;
  }
  template <class T>
  std::enable_if_t<std::is_integral_v<T>> operator()(T& v) {
    v = get_le<T>(take(sizeof(T)));
  }
  void operator()(double& v) {
    const auto bits = get_le<std::uint64_t>(take(8));
    std::memcpy(&v, &bits, sizeof v);
  }
  void operator()(AckStatus& v) {
    const auto raw = get_le<std::uint8_t>(take(1));
    if (raw > static_cast<std::uint8_t>(AckStatus::kError))
      throw ProtocolError(std::string(what) + ": unknown ack status " + std::to_string(raw));
    v = static_cast<AckStatus>(raw);
  }
  std::uint32_t length(std::uint32_t limit, const char* kind) {
    const auto n = get_le<std::uint32_t>(take(4));
    if (n > limit)
      throw ProtocolError(std::string(what) + ": " + kind + " of " + std::to_string(n) +
                          " exceeds the limit of " + std::to_string(limit));
    return n;
  }
  void operator()(std::string& v) {
    const std::uint32_t n = length(kMaxStringBytes, "string");
    v.assign(reinterpret_cast<const char*>(take(n)), n);
  }
  void operator()(std::string_view& v) {
    const std::uint32_t n = length(kMaxPayloadBytes, "byte block");
    v = std::string_view(reinterpret_cast<const char*>(take(n)), n);
  }
  void operator()(std::vector<std::int64_t>& v) {
    const std::uint32_t n = length(kMaxClasses * kMaxClasses, "array");
    const unsigned char* p = take(std::size_t(n) * 8);
    v.resize(n);
    for (std::uint32_t i = 0; i < n; ++i) v[i] = get_le<std::int64_t>(p + 8 * i);
  }
};

template <class M>
constexpr MessageType type_for();
template <>
constexpr MessageType type_for<Hello>() {
  return MessageType::kHello;
}
template <>
constexpr MessageType type_for<Heartbeat>() {
  return MessageType::kHeartbeat;
}
template <>
constexpr MessageType type_for<EvalReport>() {
  return MessageType::kEvalReport;
}
template <>
constexpr MessageType type_for<CheckpointBegin>() {
  return MessageType::kCheckpointBegin;
}
template <>
constexpr MessageType type_for<CheckpointChunk>() {
  return MessageType::kCheckpointChunk;
}
template <>
constexpr MessageType type_for<CheckpointEnd>() {
  return MessageType::kCheckpointEnd;
}
template <>
constexpr MessageType type_for<Query>() {
  return MessageType::kQuery;
}
template <>
constexpr MessageType type_for<Abort>() {
  return MessageType::kAbort;
}
template <>
constexpr MessageType type_for<Ack>() {
  return MessageType::kAck;
}

template <class M>
Message read_as(std::string_view payload) {
  M message;
  Reader reader{payload, 0, message_type_name(type_for<M>())};
  fields(reader, message);
  if (reader.at != payload.size())
    throw ProtocolError(std::string(reader.what) + " payload: " +
                        std::to_string(payload.size() - reader.at) + " trailing bytes");
  if constexpr (std::is_same_v<M, EvalReport>) {
    if (message.classes == 0 || message.classes > kMaxClasses ||
        message.counts.size() != std::size_t(message.classes) * message.classes)
      throw ProtocolError("EvalReport: " + std::to_string(message.counts.size()) + " counts for " +
                          std::to_string(message.classes) +
                          " classes (expected classes², classes 1.." + std::to_string(kMaxClasses) +
                          ")");
  }
  return message;
}

}  // namespace

const char* message_type_name(MessageType type) {
  switch (type) {
    case MessageType::kHello:
      return "Hello";
    case MessageType::kHeartbeat:
      return "Heartbeat";
    case MessageType::kEvalReport:
      return "EvalReport";
    case MessageType::kCheckpointBegin:
      return "CheckpointBegin";
    case MessageType::kCheckpointChunk:
      return "CheckpointChunk";
    case MessageType::kCheckpointEnd:
      return "CheckpointEnd";
    case MessageType::kQuery:
      return "Query";
    case MessageType::kAbort:
      return "Abort";
    case MessageType::kAck:
      return "Ack";
  }
  return "unknown";
}

MessageType type_of(const Message& message) {
  return std::visit([](const auto& m) { return type_for<std::decay_t<decltype(m)>>(); }, message);
}

std::uint64_t seq_of(const Message& message) {
  return std::visit(
      [](const auto& m) -> std::uint64_t {
        if constexpr (std::is_same_v<std::decay_t<decltype(m)>, Heartbeat> ||
                      std::is_same_v<std::decay_t<decltype(m)>, CheckpointChunk> ||
                      std::is_same_v<std::decay_t<decltype(m)>, CheckpointEnd>)
          return 0;
        else
          return m.seq;
      },
      message);
}

void encode_into(const Message& message, std::string& out) {
  const std::size_t start = out.size();
  put_le(out, kMagic);
  put_le(out, kProtocolVersion);
  put_le(out, static_cast<std::uint16_t>(type_of(message)));
  put_le(out, std::uint32_t{0});  // payload length, patched below
  put_le(out, std::uint32_t{0});
  Writer writer{out};
  std::visit([&](const auto& m) { fields(writer, const_cast<std::decay_t<decltype(m)>&>(m)); },
             message);
  const std::size_t payload = out.size() - start - kHeaderBytes;
  if (payload > kMaxPayloadBytes) {
    // Leave `out` as it was: a caller that reuses the buffer (and catches this) must not
    // send the partial frame written above, which would corrupt the stream.
    out.resize(start);
    throw ProtocolError(std::string(message_type_name(type_of(message))) + ": payload of " +
                        std::to_string(payload) + " bytes exceeds the frame limit");
  }
  std::string length;
  put_le(length, static_cast<std::uint32_t>(payload));
  out.replace(start + 8, 4, length);
}

std::string encode(const Message& message) {
  std::string out;
  encode_into(message, out);
  return out;
}

FrameHeader decode_header(const unsigned char* header, std::uint32_t max_payload) {
  const auto magic = get_le<std::uint32_t>(header);
  if (magic != kMagic) throw ProtocolError("bad frame magic (not a fer-coordinator peer?)");
  const auto version = get_le<std::uint16_t>(header + 4);
  if (version != kProtocolVersion)
    throw ProtocolError("protocol version " + std::to_string(version) + ", this side speaks " +
                        std::to_string(kProtocolVersion));
  const auto type = get_le<std::uint16_t>(header + 6);
  if (type < static_cast<std::uint16_t>(MessageType::kHello) ||
      type > static_cast<std::uint16_t>(MessageType::kAck))
    throw ProtocolError("unknown message type " + std::to_string(type));
  const auto length = get_le<std::uint32_t>(header + 8);
  if (length > max_payload)
    throw ProtocolError(std::string(message_type_name(static_cast<MessageType>(type))) +
                        " frame of " + std::to_string(length) + " bytes exceeds the limit of " +
                        std::to_string(max_payload));
  if (get_le<std::uint32_t>(header + 12) != 0) throw ProtocolError("reserved header field not 0");
  return {static_cast<MessageType>(type), length};
}

std::optional<std::uint16_t> foreign_protocol_version(const unsigned char* header) {
  if (get_le<std::uint32_t>(header) != kMagic) return std::nullopt;
  const auto version = get_le<std::uint16_t>(header + 4);
  if (version == kProtocolVersion) return std::nullopt;
  return version;
}

Message decode_payload(MessageType type, std::string_view payload) {
  switch (type) {
    case MessageType::kHello:
      return read_as<Hello>(payload);
    case MessageType::kHeartbeat:
      return read_as<Heartbeat>(payload);
    case MessageType::kEvalReport:
      return read_as<EvalReport>(payload);
    case MessageType::kCheckpointBegin:
      return read_as<CheckpointBegin>(payload);
    case MessageType::kCheckpointChunk:
      return read_as<CheckpointChunk>(payload);
    case MessageType::kCheckpointEnd:
      return read_as<CheckpointEnd>(payload);
    case MessageType::kQuery:
      return read_as<Query>(payload);
    case MessageType::kAbort:
      return read_as<Abort>(payload);
    case MessageType::kAck:
      return read_as<Ack>(payload);
  }
  throw ProtocolError("unknown message type " + std::to_string(static_cast<int>(type)));
}

std::optional<Message> FrameDecoder::next() {
  if (buffered() < kHeaderBytes) return std::nullopt;
  const auto* header = reinterpret_cast<const unsigned char*>(buffer_.data() + consumed_);
  const FrameHeader h = decode_header(header, max_payload_);
  if (buffered() < kHeaderBytes + h.payload_length) return std::nullopt;
  current_.assign(buffer_, consumed_ + kHeaderBytes, h.payload_length);
  consumed_ += kHeaderBytes + h.payload_length;
  if (consumed_ == buffer_.size()) {
    buffer_.clear();
    consumed_ = 0;
  } else if (consumed_ > (1u << 20)) {
    buffer_.erase(0, consumed_);
    consumed_ = 0;
  }
  return decode_payload(h.type, current_);
}

bool valid_run_id(std::string_view run) {
  if (run.empty() || run.size() > 128 || run[0] == '.') return false;
  for (char c : run)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
          c == '_' || c == '-'))
      return false;
  return true;
}

}  // namespace fer::coord
