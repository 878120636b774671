// fer-test-protocol-seeds DIR: writes a seed corpus of valid frames for the protocol fuzz
// target (tests/coord_protocol/fuzz_protocol.sh): one file per message type plus one
// holding several frames back to back. Valid seeds let the fuzzer start past the header
// checks instead of having to discover the magic and the layout on its own.

#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include "coord/protocol.hpp"

namespace {

using namespace fer::coord;

bool write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) {
    std::cerr << "fer-test-protocol-seeds: cannot write " << path << "\n";
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: fer-test-protocol-seeds CORPUS_DIR (an existing directory)\n";
    return 2;
  }
  const std::string dir = argv[1];

  Hello hello;
  hello.seq = 1;
  hello.run = "tiny-20261201-101500";
  hello.rank = 1;
  hello.world_size = 2;
  hello.host = "node01";
  hello.pid = 4242;
  hello.config_hash = "0123456789abcdef";
  hello.token = "secret";
  hello.resume_epoch = 3;
  hello.run_secret = "00112233445566778899aabbccddeeff";

  EvalReport report;
  report.seq = 2;
  report.split = "val";
  report.epoch = 4;
  report.rank = 1;
  report.classes = 7;
  report.counts.resize(49);
  for (std::size_t i = 0; i < report.counts.size(); ++i)
    report.counts[i] = static_cast<std::int64_t>(i * 17);
  report.loss_sum = 123.25;
  report.samples = 3589;
  report.extra_json = R"({"lr":0.001})";

  CheckpointBegin begin;
  begin.seq = 3;
  begin.upload_id = 7;
  begin.epoch = 4;
  begin.step = 1000;
  begin.size = 300;
  begin.sha256 = std::string(64, 'e');
  begin.metrics_json = R"({"val_accuracy":0.61,"val_loss":1.02})";

  std::string chunk_data(300, '\0');  // binary data, zero bytes included
  for (std::size_t i = 0; i < chunk_data.size(); ++i)
    chunk_data[i] = static_cast<char>((i * 37) & 0xff);
  const CheckpointChunk chunk{7, 0, chunk_data};

  Ack ack;
  ack.seq = 3;
  ack.status = AckStatus::kOk;
  ack.message = "";
  ack.detail_json = R"({"stored":"epoch-0004.pt"})";

  const std::vector<std::pair<std::string, Message>> seeds = {
      {"hello", hello},
      {"heartbeat", Heartbeat{1, 4, 1000}},
      {"eval_report", report},
      {"checkpoint_begin", begin},
      {"checkpoint_chunk", chunk},
      {"checkpoint_end", CheckpointEnd{7}},
      {"query", Query{4, "status"}},
      {"abort", Abort{5, 1, "NaN loss"}},
      {"ack", ack},
  };

  std::string all;
  for (const auto& [name, message] : seeds) {
    if (!write_file(dir + "/" + name + ".bin", encode(message))) return 1;
    encode_into(message, all);
  }
  // A client's typical conversation: Hello, reports, an upload, a query.
  if (!write_file(dir + "/multi.bin", all)) return 1;
  std::cout << "fer-test-protocol-seeds: wrote " << seeds.size() + 1 << " seeds to " << dir << "\n";
  return 0;
}
