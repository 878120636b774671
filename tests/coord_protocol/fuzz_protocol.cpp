// libFuzzer target for the coordinator's wire protocol (built and run by fuzz_protocol.sh
// with clang: -fsanitize=fuzzer,address,undefined). The coordinator decodes bytes from any
// peer that connects, so no input may crash it, hang it or escape as anything but a
// ProtocolError. Beyond "no crash", the target checks:
//   * feeding the input in pieces yields exactly what feeding it at once yields (the
//     decoder's buffering is invisible);
//   * every decoded message re-encodes to the very bytes of its frame (the encoding is
//     canonical), and decoding that again gives the same message.
// Any other exception escapes to libFuzzer, which reports it as a crash; a failed check
// calls abort().

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "coord/protocol.hpp"

namespace {

using namespace fer::coord;

constexpr std::uint32_t kFuzzMaxPayload = 1u << 20;  // small: the fuzzer's inputs are 64 KiB

[[noreturn]] void fail(const char* what, std::size_t index) {
  std::fprintf(stderr, "fuzz_protocol: %s (message %zu)\n", what, index);
  std::abort();
}

std::uint32_t read_u32(const std::uint8_t* p) {
  return std::uint32_t(p[0]) | std::uint32_t(p[1]) << 8 | std::uint32_t(p[2]) << 16 |
         std::uint32_t(p[3]) << 24;
}

// The outcome of decoding a whole input: each message's re-encoding, and whether a
// ProtocolError ended it.
struct Outcome {
  std::vector<std::string> frames;
  bool error = false;
};

// Checks one decoded message against the input and returns its re-encoding. `at` is the
// offset of its frame in the input (frames are consumed back to back); must run before the
// decoder's next call, which invalidates a chunk's data.
std::string check_message(const Message& message, const std::uint8_t* data, std::size_t size,
                          std::size_t& at, std::size_t index);

// The same, with a ProtocolError from re-encoding or re-decoding a message that was just
// decoded turned into a finding (the caller would otherwise take it for a bad input).
std::string checked(const Message& message, const std::uint8_t* data, std::size_t size,
                    std::size_t& at, std::size_t index) {
  try {
    return check_message(message, data, size, at, index);
  } catch (const ProtocolError& e) {
    std::fprintf(stderr, "fuzz_protocol: %s\n", e.what());
    fail("a decoded message does not survive a round trip", index);
  }
}

std::string check_message(const Message& message, const std::uint8_t* data, std::size_t size,
                          std::size_t& at, std::size_t index) {
  const std::string frame = encode(message);
  if (at + kHeaderBytes > size) fail("message decoded past the end of the input", index);
  const std::size_t length = kHeaderBytes + read_u32(data + at + 8);
  if (at + length > size) fail("frame longer than the input", index);
  if (frame.size() != length || std::memcmp(frame.data(), data + at, length) != 0)
    fail("re-encoded frame differs from the input frame", index);
  at += length;

  // Decode the re-encoding once more (the payload from a fresh buffer) and compare bytes:
  // doubles with NaN payloads and chunk views compare reliably that way.
  const FrameHeader h = decode_header(reinterpret_cast<const unsigned char*>(frame.data()));
  if (h.type != type_of(message) || h.payload_length != frame.size() - kHeaderBytes)
    fail("header of the re-encoded frame differs", index);
  const Message again =
      decode_payload(h.type, std::string_view(frame).substr(kHeaderBytes, h.payload_length));
  if (encode(again) != frame) fail("second round trip differs", index);
  if (seq_of(again) != seq_of(message)) fail("seq_of differs after a round trip", index);
  return frame;
}

// Feeds [data, data+size) to a decoder in the pieces that end at `cuts` (ascending, the
// last one `size`), draining next() after each piece.
Outcome decode_in_pieces(const std::uint8_t* data, std::size_t size,
                         const std::vector<std::size_t>& cuts) {
  Outcome outcome;
  FrameDecoder decoder(kFuzzMaxPayload);
  std::size_t fed = 0;
  std::size_t at = 0;
  try {
    for (const std::size_t cut : cuts) {
      decoder.feed(std::string_view(reinterpret_cast<const char*>(data) + fed, cut - fed));
      fed = cut;
      while (auto message = decoder.next())
        outcome.frames.push_back(checked(*message, data, size, at, outcome.frames.size()));
    }
    if (decoder.buffered() != size - at) fail("buffered() disagrees with the bytes left", 0);
  } catch (const ProtocolError&) {
    outcome.error = true;
  }
  return outcome;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // The header check on its own, as a server does before reading a payload.
  if (size >= kHeaderBytes) {
    try {
      const FrameHeader h = decode_header(data, kFuzzMaxPayload);
      // And the payload decoder on whatever follows, whatever the length field says.
      try {
        const std::string_view rest(reinterpret_cast<const char*>(data) + kHeaderBytes,
                                    size - kHeaderBytes);
        const Message m = decode_payload(h.type, rest);
        if (type_of(m) != h.type) fail("decode_payload returned another type", 0);
      } catch (const ProtocolError&) {
      }
    } catch (const ProtocolError&) {
    }
  }

  // Split points derived from the first bytes (a cheap hash of them and of the size), so
  // that each input is fed in its own reproducible way: up to four pieces.
  std::uint32_t h = 2166136261u ^ static_cast<std::uint32_t>(size);
  for (std::size_t i = 0; i < size && i < kHeaderBytes; ++i) h = (h ^ data[i]) * 16777619u;
  std::vector<std::size_t> cuts;
  if (size > 0) {
    const unsigned pieces = 1 + h % 4;
    for (unsigned i = 1; i < pieces; ++i) {
      h = h * 1103515245u + 12345u;
      cuts.push_back((h >> 8) % size);
    }
    std::sort(cuts.begin(), cuts.end());
  }
  cuts.push_back(size);

  const Outcome whole = decode_in_pieces(data, size, {size});
  const Outcome split = decode_in_pieces(data, size, cuts);
  if (whole.error != split.error) fail("an error depends on how the input was split", 0);
  if (whole.frames != split.frames) fail("messages depend on how the input was split", 0);
  return 0;
}
