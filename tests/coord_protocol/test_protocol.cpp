// Unit tests of the coordinator's wire protocol (src/coord/protocol.hpp): round trips of
// every message, the frame layout on the wire, incremental decoding and every error the
// decoder must raise. Malformed inputs are built byte by byte here (ByteWriter), not with
// encode(), so that the decoder is checked against the documented format rather than
// against the encoder's idea of it.

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "coord/protocol.hpp"

namespace fer::coord {
namespace {

// Whether `text` contains every one of `parts` (the error-message checks below).
::testing::AssertionResult Mentions(const std::string& text,
                                    std::initializer_list<std::string> parts) {
  for (const std::string& part : parts)
    if (text.find(part) == std::string::npos)
      return ::testing::AssertionFailure() << "'" << text << "' does not mention '" << part << "'";
  return ::testing::AssertionSuccess();
}

std::uint64_t bits_of(double d) {
  std::uint64_t bits;
  std::memcpy(&bits, &d, sizeof bits);
  return bits;
}

double from_bits(std::uint64_t bits) {
  double d;
  std::memcpy(&d, &bits, sizeof d);
  return d;
}

const unsigned char* bytes(const std::string& s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

// Little-endian builder for hand-made headers and payloads.
struct ByteWriter {
  std::string s;
  template <class T>
  ByteWriter& le(T value) {
    auto bits = static_cast<std::make_unsigned_t<T>>(value);
    for (std::size_t i = 0; i < sizeof(T); ++i)
      s.push_back(static_cast<char>((bits >> (8 * i)) & 0xff));
    return *this;
  }
  ByteWriter& u8(std::uint8_t v) { return le(v); }
  ByteWriter& u16(std::uint16_t v) { return le(v); }
  ByteWriter& u32(std::uint32_t v) { return le(v); }
  ByteWriter& u64(std::uint64_t v) { return le(v); }
  ByteWriter& i32(std::int32_t v) { return le(v); }
  ByteWriter& i64(std::int64_t v) { return le(v); }
  ByteWriter& f64(double v) { return le(bits_of(v)); }
  ByteWriter& str(std::string_view v) {
    u32(static_cast<std::uint32_t>(v.size()));
    s.append(v);
    return *this;
  }
};

std::string header(std::uint16_t type, std::uint32_t length, std::uint32_t magic = kMagic,
                   std::uint16_t version = kProtocolVersion, std::uint32_t reserved = 0) {
  return ByteWriter{}.u32(magic).u16(version).u16(type).u32(length).u32(reserved).s;
}

// The message of ProtocolError thrown by `f`; fails the test if it throws nothing or
// anything else.
template <class F>
std::string protocol_error(F&& f) {
  try {
    f();
  } catch (const ProtocolError& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected ProtocolError, got another exception: " << e.what();
    return {};
  }
  ADD_FAILURE() << "expected ProtocolError, nothing was thrown";
  return {};
}

// ---------------------------------------------------------------------------------------
// Field-by-field comparison (doubles by bit pattern, so -0.0 and NaN payloads count).

void expect_same(const Hello& a, const Hello& b) {
  EXPECT_EQ(a.seq, b.seq);
  EXPECT_EQ(a.run, b.run);
  EXPECT_EQ(a.rank, b.rank);
  EXPECT_EQ(a.world_size, b.world_size);
  EXPECT_EQ(a.host, b.host);
  EXPECT_EQ(a.pid, b.pid);
  EXPECT_EQ(a.config_hash, b.config_hash);
  EXPECT_EQ(a.token, b.token);
  EXPECT_EQ(a.resume_epoch, b.resume_epoch);
  EXPECT_EQ(a.run_config, b.run_config);
  EXPECT_EQ(a.run_secret, b.run_secret);
  EXPECT_EQ(a.flags, b.flags);
  EXPECT_EQ(a.keep_last, b.keep_last);
  EXPECT_EQ(a.keep_best, b.keep_best);
  EXPECT_EQ(a.best_metric, b.best_metric);
}
void expect_same(const Heartbeat& a, const Heartbeat& b) {
  EXPECT_EQ(a.rank, b.rank);
  EXPECT_EQ(a.epoch, b.epoch);
  EXPECT_EQ(a.step, b.step);
}
void expect_same(const EvalReport& a, const EvalReport& b) {
  EXPECT_EQ(a.seq, b.seq);
  EXPECT_EQ(a.split, b.split);
  EXPECT_EQ(a.epoch, b.epoch);
  EXPECT_EQ(a.rank, b.rank);
  EXPECT_EQ(a.classes, b.classes);
  EXPECT_EQ(a.counts, b.counts);
  EXPECT_EQ(bits_of(a.loss_sum), bits_of(b.loss_sum));
  EXPECT_EQ(a.samples, b.samples);
  EXPECT_EQ(a.extra_json, b.extra_json);
}
void expect_same(const CheckpointBegin& a, const CheckpointBegin& b) {
  EXPECT_EQ(a.seq, b.seq);
  EXPECT_EQ(a.upload_id, b.upload_id);
  EXPECT_EQ(a.epoch, b.epoch);
  EXPECT_EQ(a.step, b.step);
  EXPECT_EQ(a.size, b.size);
  EXPECT_EQ(a.sha256, b.sha256);
  EXPECT_EQ(a.metrics_json, b.metrics_json);
}
void expect_same(const CheckpointChunk& a, const CheckpointChunk& b) {
  EXPECT_EQ(a.upload_id, b.upload_id);
  EXPECT_EQ(a.offset, b.offset);
  // Compared as owned strings: a mismatch in a 1 MiB block should not print it all.
  EXPECT_EQ(a.data.size(), b.data.size());
  EXPECT_TRUE(a.data == b.data) << "chunk data differs";
}
void expect_same(const CheckpointEnd& a, const CheckpointEnd& b) {
  EXPECT_EQ(a.upload_id, b.upload_id);
}
void expect_same(const Query& a, const Query& b) {
  EXPECT_EQ(a.seq, b.seq);
  EXPECT_EQ(a.what, b.what);
}
void expect_same(const Abort& a, const Abort& b) {
  EXPECT_EQ(a.seq, b.seq);
  EXPECT_EQ(a.rank, b.rank);
  EXPECT_EQ(a.reason, b.reason);
}
void expect_same(const Ack& a, const Ack& b) {
  EXPECT_EQ(a.seq, b.seq);
  EXPECT_EQ(a.status, b.status);
  EXPECT_EQ(a.message, b.message);
  EXPECT_EQ(a.detail_json, b.detail_json);
}

void expect_same_message(const Message& expected, const Message& actual) {
  ASSERT_EQ(expected.index(), actual.index()) << "expected " << message_type_name(type_of(expected))
                                              << ", got " << message_type_name(type_of(actual));
  std::visit([&](const auto& e) { expect_same(e, std::get<std::decay_t<decltype(e)>>(actual)); },
             expected);
}

// Decodes one whole frame, checking its header against the frame itself. The result of a
// CheckpointChunk views `frame`, which the caller keeps alive.
Message decode_frame(const std::string& frame) {
  EXPECT_GE(frame.size(), kHeaderBytes);
  const FrameHeader h = decode_header(bytes(frame));
  EXPECT_EQ(h.payload_length, frame.size() - kHeaderBytes);
  return decode_payload(h.type, std::string_view(frame).substr(kHeaderBytes));
}

template <class M>
void expect_round_trip(const M& message) {
  const std::string frame = encode(message);
  const FrameHeader h = decode_header(bytes(frame));
  EXPECT_EQ(h.type, type_of(message));
  const Message decoded = decode_frame(frame);
  expect_same_message(message, decoded);
  // The encoding is canonical: re-encoding what was decoded gives the same bytes.
  EXPECT_TRUE(encode(decoded) == frame);
}

std::string long_string(std::size_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng() & 0xff);  // every byte value, zeros too
  return s;
}

std::vector<std::int64_t> counts_7x7() {
  std::vector<std::int64_t> counts(49);
  for (std::size_t i = 0; i < counts.size(); ++i)
    counts[i] = (i % 3 == 0 ? -1 : 1) * static_cast<std::int64_t>(i * 1000003);
  counts[0] = std::numeric_limits<std::int64_t>::min();
  counts[48] = std::numeric_limits<std::int64_t>::max();
  return counts;
}

EvalReport sample_report() {
  EvalReport r;
  r.seq = 42;
  r.split = "val";
  r.epoch = 3;
  r.rank = 1;
  r.classes = 7;
  r.counts = counts_7x7();
  r.loss_sum = 1234.5;
  r.samples = 3589;
  r.extra_json = R"({"lr":0.001})";
  return r;
}

// One of each message type with non-default values, for the stream tests.
std::vector<Message> one_of_each() {
  Hello hello;
  hello.seq = 1;
  hello.run = "tiny-20261201-101500";
  hello.rank = 2;
  hello.world_size = 4;
  hello.host = "node07";
  hello.pid = 31337;
  hello.config_hash = "cafebabe";
  hello.token = "s3cret";
  hello.resume_epoch = 5;
  hello.run_secret = "0123456789abcdef0123456789abcdef";
  hello.flags = kHelloDropLaterCheckpoints;
  hello.keep_last = 4;
  hello.keep_best = 2;
  hello.best_metric = "val_loss";
  CheckpointBegin begin;
  begin.seq = 3;
  begin.upload_id = 77;
  begin.epoch = 9;
  begin.step = 12345;
  begin.size = 5;
  begin.sha256 = std::string(64, 'a');
  begin.metrics_json = R"({"val_accuracy":0.61})";
  static const std::string kChunkData("ab\0\0c", 5);
  CheckpointChunk chunk{77, 0, kChunkData};
  Ack ack;
  ack.seq = 3;
  ack.status = AckStatus::kRejected;
  ack.message = "no";
  ack.detail_json = "{}";
  return {hello, Heartbeat{2, -1, -7}, sample_report(),    begin,
          chunk, CheckpointEnd{77},    Query{4, "status"}, Abort{5, 2, "out of memory"},
          ack};
}

// ---------------------------------------------------------------------------------------
// Round trips

TEST(ProtocolRoundTrip, HelloWithEmptyLongAndBinaryStrings) {
  Hello m;
  m.seq = std::numeric_limits<std::uint64_t>::max();
  m.run = "tiny-20261201-101500";
  m.rank = std::numeric_limits<std::uint32_t>::max();
  m.world_size = 1024;
  m.host = "gpu-node-07";
  m.pid = 0;
  m.config_hash = long_string(100000, 1);
  m.token = std::string("\0tok\xff\0", 6);
  m.resume_epoch = std::numeric_limits<std::int32_t>::min();
  m.run_secret = std::string("\0sec\xff", 5);
  m.flags = std::numeric_limits<std::uint32_t>::max();
  expect_round_trip(m);
  // Empty strings are legal and must not shift the fields after them.
  m.host = "";
  m.token = "";
  expect_round_trip(m);
  expect_round_trip(Hello{});  // the defaults, resume_epoch -1 included
}

TEST(ProtocolRoundTrip, StringOfExactlyTheLimit) {
  Abort m;
  m.seq = 9;
  m.rank = 3;
  m.reason = long_string(kMaxStringBytes, 2);
  expect_round_trip(m);
}

TEST(ProtocolRoundTrip, HeartbeatExtremes) {
  expect_round_trip(Heartbeat{std::numeric_limits<std::uint32_t>::max(), -5,
                              std::numeric_limits<std::int64_t>::min()});
  expect_round_trip(Heartbeat{0, std::numeric_limits<std::int32_t>::max(),
                              std::numeric_limits<std::int64_t>::max()});
}

TEST(ProtocolRoundTrip, EvalReportKeepsDoubleBitPatterns) {
  // -0.0 must stay negative, NaN payloads (quiet and signalling) and infinities must
  // survive exactly: the server sums loss_sum over ranks and must see what was sent.
  const std::uint64_t patterns[] = {bits_of(-0.0),
                                    bits_of(0.0),
                                    0x7ff8000000000123ull,  // quiet NaN
                                    0x7ff0000000000001ull,  // signalling NaN
                                    0xfff8000000000000ull,  // negative NaN
                                    bits_of(std::numeric_limits<double>::infinity()),
                                    bits_of(-std::numeric_limits<double>::infinity()),
                                    bits_of(std::numeric_limits<double>::denorm_min()),
                                    bits_of(std::numeric_limits<double>::max()),
                                    bits_of(-1.0 / 3.0)};
  for (const std::uint64_t bits : patterns) {
    SCOPED_TRACE(bits);
    EvalReport m = sample_report();
    m.loss_sum = from_bits(bits);
    const std::string frame = encode(m);
    const auto decoded = std::get<EvalReport>(decode_frame(frame));
    EXPECT_EQ(bits_of(decoded.loss_sum), bits);
    expect_same(m, decoded);
  }
  EvalReport negative_zero = sample_report();
  negative_zero.loss_sum = -0.0;
  EXPECT_TRUE(std::signbit(std::get<EvalReport>(decode_frame(encode(negative_zero))).loss_sum));
}

TEST(ProtocolRoundTrip, EvalReportClassCountBoundaries) {
  EvalReport one = sample_report();
  one.classes = 1;
  one.counts = {-3};
  one.split = "";
  one.extra_json = "";
  expect_round_trip(one);

  EvalReport most = sample_report();
  most.classes = kMaxClasses;
  most.counts.resize(std::size_t(kMaxClasses) * kMaxClasses);
  for (std::size_t i = 0; i < most.counts.size(); ++i)
    most.counts[i] = static_cast<std::int64_t>(i) - 2000;
  most.split = "test";
  most.epoch = -1;
  expect_round_trip(most);
}

TEST(ProtocolRoundTrip, CheckpointBeginAndEnd) {
  CheckpointBegin m;
  m.seq = 11;
  m.upload_id = 0xdeadbeefcafef00dull;
  m.epoch = -1;
  m.step = -123456789012345;
  m.size = std::numeric_limits<std::uint64_t>::max();
  m.sha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
  m.metrics_json = R"({"val_accuracy":0.61,"val_loss":1.02})";
  expect_round_trip(m);
  expect_round_trip(CheckpointEnd{std::numeric_limits<std::uint64_t>::max()});
  expect_round_trip(CheckpointEnd{});
}

TEST(ProtocolRoundTrip, CheckpointChunkWithZeroBytesEmptyAndOneMebibyte) {
  const std::string zeros("\0\0x\0y\0", 6);
  expect_round_trip(CheckpointChunk{1, 0, zeros});
  expect_round_trip(CheckpointChunk{1, 6, std::string_view()});
  const std::string mib = long_string(kCheckpointChunkBytes, 3);
  expect_round_trip(CheckpointChunk{2, std::uint64_t{5} << 32, mib});
}

TEST(ProtocolRoundTrip, CheckpointChunkDataViewsThePayload) {
  // Documented: the decoded data is a view into the payload, not a copy.
  const std::string frame = encode(CheckpointChunk{1, 2, "payload bytes"});
  const std::string_view payload = std::string_view(frame).substr(kHeaderBytes);
  const auto chunk =
      std::get<CheckpointChunk>(decode_payload(MessageType::kCheckpointChunk, payload));
  EXPECT_EQ(chunk.data, "payload bytes");
  EXPECT_GE(chunk.data.data(), payload.data());
  EXPECT_LE(chunk.data.data() + chunk.data.size(), payload.data() + payload.size());
}

TEST(ProtocolRoundTrip, QueryAbortAndEveryAckStatus) {
  expect_round_trip(Query{7, "status"});
  expect_round_trip(Query{0, ""});
  expect_round_trip(Query{8, long_string(5000, 4)});
  expect_round_trip(Abort{std::numeric_limits<std::uint64_t>::max(), 0,
                          "CUDA out of memory: \xe2\x9c\x97 tried to allocate 2 GiB"});
  for (const AckStatus status : {AckStatus::kOk, AckStatus::kRejected, AckStatus::kError}) {
    Ack m;
    m.seq = 99;
    m.status = status;
    m.message = status == AckStatus::kOk ? "" : "disk full";
    m.detail_json = long_string(70000, 5);
    expect_round_trip(m);
  }
}

// ---------------------------------------------------------------------------------------
// Wire layout: round trips cannot catch a change that both directions share.

TEST(ProtocolWire, HeaderAndHeartbeatPayloadBytes) {
  const std::string frame = encode(Heartbeat{0x01020304u, -2, 0x1122334455667788ll});
  const std::string expected =
      header(2, 16) + ByteWriter{}.u32(0x01020304u).i32(-2).i64(0x1122334455667788ll).s;
  EXPECT_TRUE(frame == expected);
  EXPECT_EQ(frame.substr(0, 4), "FERC");  // the magic reads "FERC" in memory order
}

TEST(ProtocolWire, QueryPayloadIsSeqThenLengthPrefixedString) {
  const std::string frame = encode(Query{5, "best"});
  EXPECT_TRUE(frame == header(7, 16) + ByteWriter{}.u64(5).str("best").s);
}

TEST(ProtocolWire, AckStatusIsOneByte) {
  Ack m;
  m.seq = 1;
  m.status = AckStatus::kError;
  m.message = "x";
  EXPECT_TRUE(encode(m) == header(9, 8 + 1 + 5 + 4) + ByteWriter{}.u64(1).u8(2).str("x").str("").s);
}

TEST(ProtocolWire, EncodeIntoAppendsToExistingBuffer) {
  const Query first{1, "latest"};
  const Heartbeat second{1, 2, 3};
  std::string out = "existing bytes";
  encode_into(first, out);
  encode_into(second, out);
  EXPECT_TRUE(out == "existing bytes" + encode(first) + encode(second));

  FrameDecoder decoder;
  decoder.feed(std::string_view(out).substr(std::strlen("existing bytes")));
  const auto a = decoder.next();
  ASSERT_TRUE(a);
  expect_same_message(first, *a);
  const auto b = decoder.next();
  ASSERT_TRUE(b);
  expect_same_message(second, *b);
  EXPECT_FALSE(decoder.next());
  EXPECT_EQ(decoder.buffered(), 0u);
}

// ---------------------------------------------------------------------------------------
// FrameDecoder

std::string encode_all(const std::vector<Message>& messages) {
  std::string stream;
  for (const Message& m : messages) encode_into(m, stream);
  return stream;
}

TEST(FrameDecoderTest, ByteByByteYieldsEveryMessageInOrder) {
  const std::vector<Message> messages = one_of_each();
  const std::string stream = encode_all(messages);
  FrameDecoder decoder;
  std::size_t got = 0;
  for (std::size_t i = 0; i < stream.size(); ++i) {
    decoder.feed(std::string_view(stream).substr(i, 1));
    // At most one message can complete per byte; compare it before the next call
    // (a chunk's data is only valid until then).
    if (auto m = decoder.next()) {
      ASSERT_LT(got, messages.size());
      expect_same_message(messages[got], *m);
      ++got;
      EXPECT_FALSE(decoder.next());
    }
  }
  EXPECT_EQ(got, messages.size());
  EXPECT_EQ(decoder.buffered(), 0u);
}

TEST(FrameDecoderTest, RandomSplitsYieldTheSameMessages) {
  std::vector<Message> messages = one_of_each();
  const std::string mib = long_string(kCheckpointChunkBytes, 6);
  messages.insert(messages.begin() + 5, CheckpointChunk{77, 5, mib});  // a full-size chunk
  const std::string stream = encode_all(messages);
  std::mt19937 rng(20261201);
  for (int round = 0; round < 30; ++round) {
    SCOPED_TRACE(round);
    // Piece sizes from a few bytes to more than a frame, so that splits land inside
    // headers, inside length fields and several frames arrive in one piece.
    const std::size_t max_piece = std::size_t(1) << (2 + round % 20);
    FrameDecoder decoder;
    std::size_t got = 0;
    std::size_t at = 0;
    while (at < stream.size()) {
      const std::size_t n = std::min<std::size_t>(1 + rng() % max_piece, stream.size() - at);
      decoder.feed(std::string_view(stream).substr(at, n));
      at += n;
      while (auto m = decoder.next()) {
        ASSERT_LT(got, messages.size());
        expect_same_message(messages[got], *m);
        ++got;
      }
    }
    EXPECT_EQ(got, messages.size());
    EXPECT_EQ(decoder.buffered(), 0u);
  }
}

TEST(FrameDecoderTest, ManyConcatenatedFramesInOneFeed) {
  // More than 1 MiB consumed with bytes left over exercises the buffer compaction.
  std::vector<Message> messages;
  const std::string mib = long_string(kCheckpointChunkBytes, 7);
  for (std::uint64_t i = 0; i < 3; ++i) {
    messages.push_back(CheckpointChunk{9, i * mib.size(), mib});
    messages.push_back(Heartbeat{0, 1, static_cast<std::int64_t>(i)});
  }
  for (const Message& m : one_of_each()) messages.push_back(m);
  const std::string stream = encode_all(messages);
  FrameDecoder decoder;
  decoder.feed(stream);
  EXPECT_EQ(decoder.buffered(), stream.size());
  for (const Message& expected : messages) {
    const auto m = decoder.next();
    ASSERT_TRUE(m);
    expect_same_message(expected, *m);
  }
  EXPECT_FALSE(decoder.next());
  EXPECT_EQ(decoder.buffered(), 0u);
}

TEST(FrameDecoderTest, WaitsForTheWholeFrame) {
  const std::string frame = encode(Query{3, "best"});
  FrameDecoder decoder;
  decoder.feed(std::string_view(frame).substr(0, frame.size() - 1));
  EXPECT_FALSE(decoder.next());
  EXPECT_EQ(decoder.buffered(), frame.size() - 1);
  decoder.feed(std::string_view(frame).substr(frame.size() - 1));
  const auto m = decoder.next();
  ASSERT_TRUE(m);
  expect_same_message(Query{3, "best"}, *m);
}

TEST(FrameDecoderTest, PayloadOfExactlyTheLimitIsAccepted) {
  // The limit is inclusive: a frame of max_payload bytes decodes.
  const std::string frame = encode(CheckpointChunk{1, 2, std::string(1000 - 20, 'z')});
  ASSERT_EQ(frame.size(), kHeaderBytes + 1000);
  FrameDecoder decoder(1000);
  decoder.feed(frame);
  const auto m = decoder.next();
  ASSERT_TRUE(m);
  EXPECT_EQ(std::get<CheckpointChunk>(*m).data.size(), 980u);
}

// ---------------------------------------------------------------------------------------
// Header errors

TEST(ProtocolErrors, BadMagic) {
  for (const std::uint32_t magic : {0u, 0x46455243u /* byte-swapped */, 0x48545450u /* HTTP */}) {
    const std::string h = header(1, 0, magic);
    EXPECT_TRUE(Mentions(protocol_error([&] { decode_header(bytes(h)); }), {"magic"}));
  }
  // An HTTP client connecting to the protocol port is refused on its first bytes.
  FrameDecoder decoder;
  decoder.feed("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_TRUE(Mentions(protocol_error([&] { decoder.next(); }), {"magic"}));
}

TEST(ProtocolErrors, WrongVersionNamesBothVersions) {
  const std::string h = header(1, 0, kMagic, 4660);
  const std::string what = protocol_error([&] { decode_header(bytes(h)); });
  EXPECT_TRUE(Mentions(what, {"version", "4660", std::to_string(kProtocolVersion)}));
  const std::string h0 = header(1, 0, kMagic, 0);
  EXPECT_TRUE(Mentions(protocol_error([&] { decode_header(bytes(h0)); }), {"version 0"}));
}

TEST(ProtocolErrors, UnknownMessageTypes) {
  for (const std::uint16_t type : {0, 10, 0xffff}) {
    const std::string h = header(type, 0);
    EXPECT_TRUE(Mentions(protocol_error([&] { decode_header(bytes(h)); }),
                         {"unknown message type", std::to_string(type)}));
  }
  // decode_payload refuses an out-of-range type too rather than reading garbage.
  EXPECT_TRUE(Mentions(protocol_error([] { decode_payload(static_cast<MessageType>(0), ""); }),
                       {"unknown message type"}));
  EXPECT_TRUE(Mentions(protocol_error([] { decode_payload(static_cast<MessageType>(10), ""); }),
                       {"unknown message type"}));
  EXPECT_STREQ(message_type_name(static_cast<MessageType>(10)), "unknown");
}

TEST(ProtocolErrors, ReservedFieldNotZero) {
  for (const std::uint32_t reserved : {1u, 0x80000000u}) {
    const std::string h = header(2, 16, kMagic, kProtocolVersion, reserved);
    EXPECT_TRUE(Mentions(protocol_error([&] { decode_header(bytes(h)); }), {"reserved"}));
  }
}

TEST(ProtocolErrors, PayloadOverTheLimitIsRefusedFromTheHeaderAlone) {
  const std::string h = header(5, kMaxPayloadBytes + 1);
  EXPECT_TRUE(Mentions(protocol_error([&] { decode_header(bytes(h)); }),
                       {"exceeds the limit", std::to_string(kMaxPayloadBytes)}));
  const std::string h_max = header(5, std::numeric_limits<std::uint32_t>::max());
  EXPECT_TRUE(Mentions(protocol_error([&] { decode_header(bytes(h_max)); }), {"4294967295"}));

  // Only the 16 header bytes are fed: the decoder must not wait for (and buffer) a payload
  // it will refuse anyway.
  FrameDecoder decoder(1024);
  decoder.feed(header(5, 1025));
  EXPECT_TRUE(Mentions(protocol_error([&] { decoder.next(); }), {"1025", "1024"}));

  // A header exactly at the limit is fine and just waits for its payload.
  FrameDecoder waiting(1024);
  waiting.feed(header(5, 1024));
  EXPECT_FALSE(waiting.next());
}

// ---------------------------------------------------------------------------------------
// Payload errors

TEST(ProtocolErrors, EveryTruncationOfAnEvalReportThrows) {
  const std::string frame = encode(sample_report());
  const std::string_view payload = std::string_view(frame).substr(kHeaderBytes);
  for (std::size_t cut = 0; cut < payload.size(); ++cut) {
    // Copied into an exact-size heap block (a std::string would have its NUL and spare
    // capacity after the cut) so that AddressSanitizer (FER_SANITIZE) catches any read
    // past the cut.
    const std::unique_ptr<char[]> block(new char[cut]);
    std::memcpy(block.get(), payload.data(), cut);
    const std::string_view prefix(block.get(), cut);
    EXPECT_TRUE(Mentions(protocol_error([&] { decode_payload(MessageType::kEvalReport, prefix); }),
                         {"EvalReport"}))
        << "cut at " << cut;
  }
}

TEST(ProtocolErrors, EveryTruncationOfEveryMessageThrows) {
  for (const Message& m : one_of_each()) {
    const std::string frame = encode(m);
    const std::string_view payload = std::string_view(frame).substr(kHeaderBytes);
    for (std::size_t cut = 0; cut < payload.size(); ++cut) {
      const std::unique_ptr<char[]> block(new char[cut]);
      std::memcpy(block.get(), payload.data(), cut);
      const std::string_view prefix(block.get(), cut);
      EXPECT_THROW(decode_payload(type_of(m), prefix), ProtocolError)
          << message_type_name(type_of(m)) << " cut at " << cut;
    }
  }
}

TEST(ProtocolErrors, TrailingBytes) {
  for (const Message& m : one_of_each()) {
    const std::string payload = encode(m).substr(kHeaderBytes) + std::string("\0", 1);
    EXPECT_TRUE(Mentions(protocol_error([&] { decode_payload(type_of(m), payload); }),
                         {"1 trailing bytes", message_type_name(type_of(m))}));
  }
  // Through the decoder: a header whose length covers one byte too many.
  const std::string payload = encode(Query{1, "best"}).substr(kHeaderBytes) + "!";
  FrameDecoder decoder;
  decoder.feed(header(7, static_cast<std::uint32_t>(payload.size())) + payload);
  EXPECT_TRUE(Mentions(protocol_error([&] { decoder.next(); }), {"trailing"}));
}

TEST(ProtocolErrors, StringLengthPastTheEnd) {
  const std::string payload = ByteWriter{}.u64(1).u32(100).s + "short";
  EXPECT_TRUE(Mentions(protocol_error([&] { decode_payload(MessageType::kQuery, payload); }),
                       {"Query", "100"}));
  // A length near 2^32 must not wrap around an offset computation.
  const std::string huge = ByteWriter{}.u64(1).u32(0xfffffff0u).s + "x";
  EXPECT_THROW(decode_payload(MessageType::kQuery, huge), ProtocolError);
  // Chunk data has its own length field; the same rule applies.
  const std::string chunk = ByteWriter{}.u64(1).u64(0).u32(0xffffffffu).s + "abc";
  EXPECT_THROW(decode_payload(MessageType::kCheckpointChunk, chunk), ProtocolError);
}

TEST(ProtocolErrors, StringOverTheStringLimit) {
  ByteWriter w;
  w.u64(1).u32(kMaxStringBytes + 1);
  w.s.append(kMaxStringBytes + 1, 'x');
  EXPECT_TRUE(Mentions(protocol_error([&] { decode_payload(MessageType::kQuery, w.s); }),
                       {"string", std::to_string(kMaxStringBytes + 1)}));
}

std::string report_payload(std::uint32_t classes, std::size_t counts) {
  ByteWriter w;
  w.u64(1).str("val").i32(0).u32(0).u32(classes).u32(static_cast<std::uint32_t>(counts));
  for (std::size_t i = 0; i < counts; ++i) w.i64(1);
  return w.f64(1.0).i64(counts).str("").s;
}

TEST(ProtocolErrors, EvalReportCountsMustBeClassesSquared) {
  // The hand-built payload is itself valid when the shape is right (guards the builder).
  EXPECT_NO_THROW(decode_payload(MessageType::kEvalReport, report_payload(7, 49)));
  EXPECT_TRUE(Mentions(
      protocol_error([] { decode_payload(MessageType::kEvalReport, report_payload(7, 48)); }),
      {"48 counts", "7 classes"}));
  EXPECT_TRUE(Mentions(
      protocol_error([] { decode_payload(MessageType::kEvalReport, report_payload(7, 7)); }),
      {"7 counts"}));
  EXPECT_TRUE(Mentions(
      protocol_error([] { decode_payload(MessageType::kEvalReport, report_payload(0, 0)); }),
      {"0 classes"}));
  EXPECT_TRUE(Mentions(
      protocol_error([] { decode_payload(MessageType::kEvalReport, report_payload(65, 49)); }),
      {"65 classes"}));
  // 65² = 4225 counts trips the array limit (64²) before the shape check.
  EXPECT_TRUE(Mentions(
      protocol_error([] { decode_payload(MessageType::kEvalReport, report_payload(65, 65 * 65)); }),
      {"array", "4225"}));
  EXPECT_NO_THROW(decode_payload(MessageType::kEvalReport,
                                 report_payload(kMaxClasses, kMaxClasses * kMaxClasses)));
}

TEST(ProtocolErrors, UnknownAckStatus) {
  for (const std::uint8_t status : {3, 255}) {
    const std::string payload = ByteWriter{}.u64(1).u8(status).str("").str("").s;
    EXPECT_TRUE(Mentions(protocol_error([&] { decode_payload(MessageType::kAck, payload); }),
                         {"ack status", std::to_string(status)}));
  }
  const std::string ok = ByteWriter{}.u64(1).u8(2).str("").str("").s;
  EXPECT_EQ(std::get<Ack>(decode_payload(MessageType::kAck, ok)).status, AckStatus::kError);
}

TEST(ProtocolErrors, EncodingAChunkOverTheFrameLimitThrowsAndLeavesTheBufferAlone) {
  // Chunk payload = upload_id (8) + offset (8) + length (4) + data.
  const std::size_t fits = kMaxPayloadBytes - 20;
  const std::string big(fits + 1, 'q');
  std::string out = "earlier frame";
  EXPECT_TRUE(Mentions(protocol_error([&] {
                         encode_into(CheckpointChunk{1, 0, big}, out);
                       }),
                       {"CheckpointChunk", "exceeds the frame limit"}));
  // A caller that catches the error and keeps using the buffer must not send half a frame.
  EXPECT_EQ(out, "earlier frame");
  EXPECT_THROW(encode(CheckpointChunk{1, 0, big}), ProtocolError);
  // One byte less fits exactly.
  const std::string frame = encode(CheckpointChunk{1, 0, std::string_view(big).substr(0, fits)});
  EXPECT_EQ(frame.size(), kHeaderBytes + kMaxPayloadBytes);
  EXPECT_EQ(std::get<CheckpointChunk>(decode_frame(frame)).data.size(), fits);
}

// ---------------------------------------------------------------------------------------
// seq_of / type_of / message_type_name

TEST(ProtocolMessages, SeqOfAndTypeOf) {
  Hello hello;
  hello.seq = 11;
  EvalReport report = sample_report();
  report.seq = 12;
  CheckpointBegin begin;
  begin.seq = 13;
  EXPECT_EQ(seq_of(hello), 11u);
  EXPECT_EQ(seq_of(report), 12u);
  EXPECT_EQ(seq_of(begin), 13u);
  EXPECT_EQ(seq_of(Query{14, "best"}), 14u);
  EXPECT_EQ(seq_of(Abort{15, 0, ""}), 15u);
  // Heartbeats, chunks and ends are never acknowledged on their own.
  EXPECT_EQ(seq_of(Heartbeat{1, 2, 3}), 0u);
  EXPECT_EQ(seq_of(CheckpointChunk{99, 1, "x"}), 0u);
  EXPECT_EQ(seq_of(CheckpointEnd{99}), 0u);

  const std::vector<Message> messages = one_of_each();
  const char* names[] = {"Hello",           "Heartbeat",       "EvalReport",
                         "CheckpointBegin", "CheckpointChunk", "CheckpointEnd",
                         "Query",           "Abort",           "Ack"};
  ASSERT_EQ(messages.size(), 9u);
  for (std::size_t i = 0; i < messages.size(); ++i) {
    EXPECT_EQ(static_cast<std::uint16_t>(type_of(messages[i])), i + 1);
    EXPECT_STREQ(message_type_name(type_of(messages[i])), names[i]);
    // The header's type field is the one type_of reports.
    const std::string frame = encode(messages[i]);
    EXPECT_EQ(decode_header(bytes(frame)).type, type_of(messages[i]));
  }
}

// ---------------------------------------------------------------------------------------
// valid_run_id: run ids become directory names on the server.

TEST(ProtocolRunId, Accepts) {
  EXPECT_TRUE(valid_run_id("tiny-20261201-101500"));
  EXPECT_TRUE(valid_run_id("a.b_c-1"));
  EXPECT_TRUE(valid_run_id("x"));
  EXPECT_TRUE(valid_run_id("a.."));  // dots are fine after the first character
  EXPECT_TRUE(valid_run_id(std::string(128, 'r')));
}

TEST(ProtocolRunId, Rejects) {
  for (const std::string_view bad :
       {"", "..", ".", ".hidden", "a/b", "/abs", "a\\b", "a b", "a\tb", "run:1", "~user"})
    EXPECT_FALSE(valid_run_id(bad)) << "'" << bad << "'";
  EXPECT_FALSE(valid_run_id(std::string(129, 'r')));
  EXPECT_FALSE(valid_run_id("caf\xc3\xa9"));  // UTF-8 é
  EXPECT_FALSE(valid_run_id("run\x80"));
  EXPECT_FALSE(valid_run_id("run\xff"));
  EXPECT_FALSE(valid_run_id(std::string_view("ab\0c", 4)));  // an embedded NUL
}

}  // namespace
}  // namespace fer::coord
