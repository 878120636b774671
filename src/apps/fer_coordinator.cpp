// fer-coordinator: the job's memory as a process of its own (for a Slurm job's first
// node, or any machine the ranks reach). fer-train embeds the same service in rank 0
// when coordinator.address is empty.
#include <CLI/CLI.hpp>
#include <iostream>

#include "common/command_line.hpp"
#include "common/error.hpp"
#include "common/tool_main.hpp"
#include "coord/coordinator_server.hpp"

int main(int argc, char** argv) {
  CLI::App app{
      "fer-coordinator: receives every rank's evaluation counts and turns them into the job's\n"
      "metrics (exactly, from counts), receives, verifies and keeps checkpoints, and serves a\n"
      "status page.\n"
      "  fer-coordinator                                      127.0.0.1:7070, page on :7071\n"
      "  FER_COORD_TOKEN=s3cret fer-coordinator --listen 0.0.0.0\n"
      "  fer-train -c configs/cpu.yaml --set coordinator.address=node1:7070\n"
      "Each run lives in <checkpoints>/<run>/: metrics.jsonl (one line per epoch), manifest.json,\n"
      "epoch-NNNN.pt, latest.pt, best.pt, config.yaml, coordinator.json, eval-reports.jsonl.\n"
      "Killed and restarted, it reopens the runs left running and loses nothing it acknowledged.\n"
      "Exit codes: 0 ok (stopped by SIGINT/SIGTERM), 1 failure, 2 bad usage."};
  fer::coord::CoordinatorOptions options;
  std::string checkpoints = "checkpoints", token_file, http_listen;
  int port = 7070;
  options.http_port = 7071;
  app.add_option("--listen", options.listen_address,
                 "Address for ranks (default 127.0.0.1; any other needs a token)");
  app.add_option("--port", port, "TCP port for ranks (0: any free port)")
      ->check(CLI::Range(0, 65535));
  app.add_option("--http-port", options.http_port,
                 "Status page port (default 7071; -1: off; 0: any free port)")
      ->check(CLI::Range(-1, 65535));
  app.add_option("--http-listen", http_listen,
                 "Address of the status page (default: the --listen address)");
  app.add_option("--checkpoints", checkpoints, "Directory of the runs (default checkpoints)");
  app.add_option("--token-file", token_file,
                 "File with the shared token (mode 600; at least 16 characters off loopback; "
                 "default: FER_COORD_TOKEN)");
  app.add_option("--keep-last", options.run.retention.keep_last,
                 "Most recent checkpoints kept per run (default 3) for a client that does not say; "
                 "fer-train sends its checkpoint.keep_last, keep_best and best_metric, which win")
      ->check(fer::cli::above(0));
  app.add_option("--keep-best", options.run.retention.keep_best,
                 "Best checkpoints kept per run (default 1)")
      ->check(fer::cli::above(0));
  app.add_option("--best-metric", options.run.retention.best_metric,
                 "Metric ranking checkpoints: val_accuracy (default), val_macro_f1, val_loss")
      ->check(CLI::IsMember({"val_accuracy", "val_macro_f1", "val_loss"}));
  app.add_option("--eval-deadline", options.run.eval_deadline_seconds,
                 "Seconds after a set's first report before missing ranks are reported (300)")
      ->check(fer::cli::above(0));
  app.add_option("--idle-timeout", options.idle_timeout_seconds,
                 "Close a connection silent this many seconds (default 120)")
      ->check(fer::cli::above(0));
  app.add_option("--hello-timeout", options.hello_timeout_seconds,
                 "Close a connection that has not said an accepted Hello after this many "
                 "seconds (default 10)")
      ->check(fer::cli::above(0));
  app.add_flag("-q,--quiet", options.quiet, "Only warnings and errors");
  if (const auto code = fer::cli::parse(app, argc, argv, "fer-coordinator")) return *code;

  return fer::run_tool("fer-coordinator", [&] {
    options.port = static_cast<std::uint16_t>(port);
    options.checkpoints_dir = checkpoints;
    options.http_address = http_listen.empty() ? options.listen_address : http_listen;
    options.token = fer::coord::load_token(token_file);
    fer::coord::CoordinatorServer server(options);
    std::cout << "fer-coordinator: serving " << checkpoints << "/ on " << options.listen_address
              << ":" << server.port();
    if (server.http_port() >= 0)
      std::cout << "; status page http://" << options.http_address << ":" << server.http_port()
                << "/";
    std::cout << (options.token.empty() ? "" : "; token required") << std::endl;
    server.run_until_signal();
    return fer::kExitOk;
  });
}
