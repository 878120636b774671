#include "train/coordinator_link.hpp"

#include <unistd.h>

#include <fstream>
#include <iostream>
#include <random>

#include "common/error.hpp"
#include "common/sha256.hpp"
#include "coord/coordinator_client.hpp"
#include "coord/coordinator_server.hpp"
#include "dist/agreement.hpp"

namespace fer {
using nlohmann::json;

namespace {
// 128 random bits from the kernel, as hex: the per-job secret of an embedded
// coordinator that listens beyond loopback.
std::string random_token() {
  std::ifstream urandom("/dev/urandom", std::ios::binary);
  unsigned char bytes[16];
  urandom.read(reinterpret_cast<char*>(bytes), sizeof bytes);
  if (!urandom) throw std::runtime_error("/dev/urandom: cannot read a token");
  static const char* hex = "0123456789abcdef";
  std::string token;
  for (unsigned char b : bytes) token += {hex[b >> 4], hex[b & 15]};
  return token;
}
}  // namespace

CoordinatorLink::CoordinatorLink(const TrainConfig& config, const std::string& run,
                                 int resume_epoch, ProcessGroup& group,
                                 const std::function<void(const std::string&)>& say)
    : group_(group), say_(say), flush_timeout_(config.coordinator.flush_timeout_seconds) {
  const CoordinatorConfig& c = config.coordinator;
  std::string host, port_text, token;
  all_or_nothing(
      group, "starting the coordinator",
      [&] {
        token = coord::load_token(c.token_file);
        if (!c.address.empty()) {
          const auto colon = c.address.rfind(':');
          host = c.address.substr(0, colon);
          port_text = c.address.substr(colon + 1);
          description_ = "fer-coordinator at " + c.address;
          return;
        }
        coord::CoordinatorOptions options;
        // One node: loopback suffices. Several: every interface, with a secret
        // that only this job's ranks learn (over MPI).
        const bool one_node = group.local_size() == group.size();
        options.listen_address =
            c.listen == "auto" ? (one_node ? "127.0.0.1" : "0.0.0.0") : c.listen;
        if (token.empty() && !coord::is_loopback_address(options.listen_address))
          token = random_token();
        options.token = token;
        options.port = static_cast<std::uint16_t>(c.port);
        options.http_port = c.http_port;
        options.checkpoints_dir = config.checkpoint.dir;
        options.restore_running_runs = false;  // this job's run only
        options.run.retention = {config.checkpoint.keep_last, config.checkpoint.keep_best,
                                 config.checkpoint.best_metric};
        options.run.eval_deadline_seconds = c.eval_deadline_seconds;
        options.quiet = options.run.quiet = true;  // the trainer prints each epoch; warnings show
        embedded_ = std::make_unique<coord::CoordinatorServer>(options);
        embedded_->start_in_thread();
        host = coord::is_loopback_address(options.listen_address) ? std::string("127.0.0.1")
                                                                  : group.host();
        port_text = std::to_string(embedded_->port());
        description_ =
            "embedded coordinator on " + host + ":" + port_text +
            (embedded_->http_port() >= 0
                 ? ", status page http://" +
                       (options.http_address == "0.0.0.0" ? group.host() : options.http_address) +
                       ":" + std::to_string(embedded_->http_port()) + "/"
                 : std::string());
      },
      /*root_only=*/true);
  group.broadcast(host, 0, "sharing the coordinator's address");
  group.broadcast(port_text, 0, "sharing the coordinator's port");
  group.broadcast(token, 0, "sharing the coordinator's token");

  coord::ClientOptions options;
  options.host = host;
  options.port = static_cast<std::uint16_t>(std::stoi(port_text));
  coord::Hello& hello = options.hello;
  hello.run = run;
  hello.rank = static_cast<std::uint32_t>(group.rank());
  hello.world_size = static_cast<std::uint32_t>(group.size());
  hello.host = group.host();
  hello.pid = static_cast<std::uint32_t>(::getpid());
  Sha256 hash;
  const std::string yaml = to_yaml(config);
  hash.update(yaml.data(), yaml.size());
  hello.config_hash = hash.hex_digest();
  hello.token = token;
  if (group.rank() == 0) {
    hello.resume_epoch = resume_epoch;
    hello.run_config = yaml;
  }
  // Rank 0 first: its Hello drops later epochs of a resumed run, which must happen
  // before any other rank reports one.
  const auto connect = [&] {
    client_ = std::make_unique<coord::CoordinatorClient>(options);
    if (!client_->wait_connected(c.connect_timeout_seconds)) {
      std::string why;
      for (const auto& p : client_->take_problems()) why = p;
      if (why.empty()) why = client_->last_error();
      throw InputError("cannot reach the coordinator at " + host + ":" + port_text + " within " +
                       std::to_string(static_cast<int>(c.connect_timeout_seconds)) + " s: " + why);
    }
  };
  all_or_nothing(group, "connecting to the coordinator", connect, /*root_only=*/true);
  all_or_nothing(group, "connecting to the coordinator", [&] {
    if (group.rank() != 0) connect();
  });
}

CoordinatorLink::~CoordinatorLink() {
  if (finished_ || !client_) return;
  // An exception is unwinding the trainer: say so, briefly, and let it go.
  client_->end("fer-train stopped before the end of the run (see the rank's log)");
  client_->flush(2.0);
  client_.reset();
  embedded_.reset();
}

void CoordinatorLink::report_eval(const std::string& split, int epoch,
                                  const std::vector<std::int64_t>& counts, int classes,
                                  double loss_sum, std::int64_t samples, const json& extra) {
  coord::EvalReport report;
  report.split = split;
  report.epoch = epoch;
  report.classes = static_cast<std::uint32_t>(classes);
  report.counts = counts;
  report.loss_sum = loss_sum;
  report.samples = samples;
  if (!extra.empty()) report.extra_json = extra.dump();
  client_->report_eval(std::move(report));
}

void CoordinatorLink::upload_checkpoint(int epoch, std::int64_t step, std::string bytes,
                                        const json& metrics) {
  client_->upload_checkpoint(epoch, step, std::move(bytes), metrics);
}

void CoordinatorLink::progress(int epoch, std::int64_t step) {
  client_->progress(epoch, step);
}

std::vector<std::string> CoordinatorLink::problems() {
  return client_->take_problems();
}

bool CoordinatorLink::finish() {
  if (group_.rank() == 0) client_->end("");
  const coord::FlushResult flushed = client_->flush(flush_timeout_);
  std::int64_t missing = static_cast<std::int64_t>(flushed.unacknowledged);
  for (const auto& p : client_->take_problems()) say_("coordinator: " + p);
  if (!flushed.complete)
    std::cerr << "fer-train[" << group_.label() << "]: warning: " << flushed.unacknowledged
              << " messages to the coordinator unacknowledged after "
              << static_cast<int>(flush_timeout_) << " s"
              << (flushed.last_error.empty() ? "" : " (" + flushed.last_error + ")") << std::endl;
  // Every rank's reports are in before rank 0 stops the embedded coordinator.
  group_.all_reduce_sum(&missing, 1, "waiting for every rank's reports to reach the coordinator");
  finished_ = true;
  client_.reset();
  embedded_.reset();
  if (missing > 0)
    say_("warning: " + std::to_string(missing) +
         " messages never reached the coordinator: metrics.jsonl or checkpoints may be "
         "incomplete");
  return missing == 0;
}

}  // namespace fer
