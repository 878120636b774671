#include "train/coordinator_link.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "common/atomic_output.hpp"
#include "common/error.hpp"
#include "common/interrupt.hpp"
#include "common/sha256.hpp"
#include "coord/coordinator_client.hpp"
#include "coord/coordinator_server.hpp"
#include "dist/agreement.hpp"
#include "http/access.hpp"
#include "runs/run_control.hpp"
#include "runs/run_lookup.hpp"

namespace fer {
using nlohmann::json;

CoordinatorLink::CoordinatorLink(const TrainConfig& config, const std::string& run,
                                 const std::string& run_secret, int resume_epoch, bool drop_later,
                                 ProcessGroup& group,
                                 const std::function<void(const std::string&)>& say)
    : group_(group),
      say_(say),
      flush_timeout_(config.coordinator.flush_timeout_seconds),
      connect_timeout_(config.coordinator.connect_timeout_seconds),
      fallback_dir_((std::filesystem::path(config.checkpoint.dir) / run / "unsent").string()) {
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
        if (token.empty() && !http::is_loopback_address(options.listen_address))
          token = runs::random_secret();
        options.token = token;
        options.port = static_cast<std::uint16_t>(c.port);
        options.http_port = c.http_port;
        options.checkpoints_dir = config.checkpoint.dir;
        options.restore_running_runs = false;  // this job's run only
        options.run.retention = {config.checkpoint.keep_last, config.checkpoint.keep_best,
                                 std::string(name_of(config.checkpoint.best_metric))};
        options.run.eval_deadline_seconds = c.eval_deadline_seconds;
        options.quiet = options.run.quiet = true;  // the trainer prints each epoch; warnings show
        embedded_ = std::make_unique<coord::CoordinatorServer>(options);
        embedded_->start_in_thread();
        host = http::is_loopback_address(options.listen_address) ? std::string("127.0.0.1")
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
  hello.run_secret = run_secret;
  if (group.rank() == 0) {
    hello.resume_epoch = resume_epoch;
    hello.run_config = yaml;
    if (drop_later) hello.flags |= coord::kHelloDropLaterCheckpoints;
    hello.keep_last = config.checkpoint.keep_last;
    hello.keep_best = config.checkpoint.keep_best;
    hello.best_metric = name_of(config.checkpoint.best_metric);
  }
  const double stall = config.dist.stall_seconds;
  const bool watch = stall > 0 && group.size() > 1;
  if (watch) options.watch_ranks_seconds = std::min(5.0, stall / 3);
  const std::string label = group.label();
  options.on_warning = [label](const std::string& line) {
    std::cerr << "fer-train[" << label << "]: warning: " << line << std::endl;
  };
  // Rank 0 first: its Hello drops later epochs of a resumed run, which must happen
  // before any other rank reports one.
  const auto connect = [&] {
    client_ = std::make_unique<coord::CoordinatorClient>(options);
    if (!client_->wait_connected(c.connect_timeout_seconds)) {
      // Refused (the client stops trying) or never reached: say which.
      const auto refusals = client_->take_problems();
      if (!refusals.empty()) throw InputError(refusals.back());
      throw InputError("cannot reach the coordinator at " + host + ":" + port_text + " within " +
                       std::to_string(static_cast<int>(c.connect_timeout_seconds)) +
                       " s: " + client_->last_error());
    }
  };
  all_or_nothing(group, "connecting to the coordinator", connect, /*root_only=*/true);
  all_or_nothing(group, "connecting to the coordinator", [&] {
    if (group.rank() != 0) connect();
  });
  // From here on a rank that stops beating ends the job within dist.stall_seconds.
  if (watch)
    group.set_liveness_check(
        [this, stall, embedded = c.address.empty()] { return stalled_rank(stall, embedded); });
}

std::string CoordinatorLink::stalled_rank(double stall_seconds, bool embedded) const {
  const coord::WatchedRanks watched = client_->watched_ranks();
  char seconds[32];
  // The coordinator itself is not answering: the embedded one lives in rank 0, so
  // rank 0 has stopped; an external one may be restarting, and its silence says
  // nothing about the ranks (no verdict, the deadline still holds).
  if (watched.asked_age_seconds > std::min(stall_seconds, 15.0)) {
    if (!embedded || group_.rank() == 0 || watched.asked_age_seconds <= stall_seconds) return "";
    std::snprintf(seconds, sizeof seconds, "%.0f", watched.asked_age_seconds);
    return std::string("rank 0, which serves the coordinator, has not answered for ") + seconds +
           " s: it is stopped, frozen or its node is gone";
  }
  if (watched.answer_age_seconds < 0) return "";
  for (const json& rank : watched.ranks) {
    if (rank.value("rank", -1) == group_.rank()) continue;
    const double age = rank.value("heartbeat_age_seconds", 0.0) + watched.answer_age_seconds;
    if (age <= stall_seconds) continue;
    std::snprintf(seconds, sizeof seconds, "%.0f", age);
    const auto step = rank.value("step", std::int64_t{0});
    return "rank " + std::to_string(rank.value("rank", -1)) + " (host " +
           rank.value("host", std::string("?")) + ", pid " + std::to_string(rank.value("pid", 0)) +
           ") has sent no heartbeat for " + seconds +
           " s: it is stopped, frozen or its node is gone (a slow step still beats); its last "
           "heartbeat said epoch " +
           std::to_string(rank.value("epoch", 0)) + ", step " + std::to_string(step);
  }
  return "";
}

CoordinatorLink::~CoordinatorLink() {
  group_.set_liveness_check({});
  if (finished_ || !client_) return;
  // An exception is unwinding the trainer: say so, briefly, and let it go.
  const int signal = interrupt_signal();
  client_->end(signal ? "interrupted by " + signal_name(signal) +
                            " (continue it with fer-train --resume auto)"
                      : "fer-train stopped before the end of the run (see the rank's log)");
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

std::vector<int> CoordinatorLink::lost_checkpoints() {
  for (const int epoch : client_->take_lost_checkpoints()) lost_.push_back(epoch);
  std::string text;
  for (int epoch : lost_) text += std::to_string(epoch) + " ";
  group_.broadcast(text, 0, "sharing which checkpoints were not stored");
  std::vector<int> epochs;
  std::istringstream in(text);
  for (int epoch; in >> epoch;) epochs.push_back(epoch);
  return epochs;
}

CoordinatorLink::Outcome CoordinatorLink::finish() {
  // The end may take a rank the whole flush deadline: no stall verdicts from here on.
  group_.set_liveness_check({});
  if (group_.rank() == 0) client_->end("");
  // A coordinator unreachable for as long as a connection may take is given up on
  // before the full flush deadline.
  const coord::FlushResult flushed = client_->flush(flush_timeout_, connect_timeout_);
  for (const auto& p : client_->take_problems()) say_("coordinator: " + p);
  for (const int epoch : client_->take_lost_checkpoints()) lost_.push_back(epoch);
  Outcome outcome;
  if (!flushed.complete)
    std::cerr << "fer-train[" << group_.label() << "]: warning: " << flushed.unacknowledged
              << " messages to the coordinator unacknowledged"
              << (flushed.last_error.empty() ? "" : " (" + flushed.last_error + ")") << std::endl;
  else if (group_.rank() == 0) {
    try {
      outcome.best = client_->query("best", 30);
    } catch (const std::exception& e) {
      say_(std::string("coordinator: ") + e.what());
    }
  }
  // Never lose a checkpoint: what the coordinator did not take is kept here.
  for (const coord::UnsentCheckpoint& unsent : client_->stop_and_take_unsent()) {
    const std::filesystem::path file =
        std::filesystem::path(fallback_dir_) / runs::checkpoint_file_name(unsent.epoch);
    try {
      std::filesystem::create_directories(fallback_dir_);
      write_file_atomically(file, *unsent.bytes);
      say_("warning: the checkpoint of epoch " + std::to_string(unsent.epoch) +
           " never reached the coordinator; kept as " + file.string());
      outcome.unsent_dir = fallback_dir_;
    } catch (const std::exception& e) {
      say_("error: the checkpoint of epoch " + std::to_string(unsent.epoch) +
           " never reached the coordinator and could not be kept locally: " + e.what());
    }
    lost_.push_back(unsent.epoch);
  }
  // Every rank's reports are in before rank 0 stops the embedded coordinator; every
  // rank learns whether anything was lost (only rank 0 uploads checkpoints).
  std::int64_t counts[2] = {static_cast<std::int64_t>(flushed.unacknowledged),
                            static_cast<std::int64_t>(lost_.size())};
  group_.all_reduce_sum(counts, 2, "waiting for every rank's reports to reach the coordinator");
  const std::int64_t missing = counts[0];
  finished_ = true;
  client_.reset();
  embedded_.reset();
  outcome.lost_epochs = lost_;
  std::sort(outcome.lost_epochs.begin(), outcome.lost_epochs.end());
  outcome.lost_epochs.erase(std::unique(outcome.lost_epochs.begin(), outcome.lost_epochs.end()),
                            outcome.lost_epochs.end());
  outcome.complete = missing == 0 && counts[1] == 0;
  if (missing > 0)
    say_("warning: " + std::to_string(missing) +
         " messages never reached the coordinator: metrics.jsonl or checkpoints are incomplete");
  return outcome;
}

}  // namespace fer
