// fer-serve: a fer-train checkpoint as a web service (REST + a page with webcam).
#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <thread>
#include <vector>

#include "common/command_line.hpp"
#include "common/parallel.hpp"
#include "common/tool_main.hpp"
#include "face_options.hpp"
#include "http/access.hpp"
#include "predict/cpu_threads.hpp"
#include "serve/model_follower.hpp"
#include "serve/predict_service.hpp"

namespace {

// Everything the command line sets.
struct ServeFlags {
  fer::serve::FollowOptions follow;
  fer::serve::ServiceOptions service;
  fer::serve::BatchOptions batching;
  std::string listen = "127.0.0.1", checkpoints_dir = "checkpoints";
  fer::DeviceChoice device = fer::DeviceChoice::kAuto;
  fer::InferencePrecision precision = fer::InferencePrecision::kF32;
  std::string token_file, fallback = "none", cascade = service.faces.detector.cascade.string();
  int port = 8080, threads = 0, io_threads = 0;
  double max_wait_ms = 2, max_body_mb = 16, reload_seconds = 1;
  std::size_t max_batch = batching.max_faces;
  bool no_detect = false, quiet = false;
};

void declare_options(CLI::App& app, ServeFlags& f) {
  app.add_option("-k,--checkpoint", f.follow.checkpoint,
                 "best | latest (newest run's) | run directory or name (its best.pt, followed) | "
                 ".pt file");
  app.add_option("--checkpoints-dir", f.checkpoints_dir,
                 "Where runs live (for best, latest, names)");
  app.add_option("--listen", f.listen,
                 "Address to listen on (default 127.0.0.1; any other needs a token)");
  app.add_option("--port", f.port, "TCP port (default 8080; 0: any free port, printed)")
      ->check(CLI::Range(0, 65535));
  app.add_option("--token-file", f.token_file,
                 "File with the token clients send (mode 600; at least 16 characters; default: "
                 "FER_SERVE_TOKEN); required off loopback");
  fer::cli::add_choice(app, "--device", f.device, "auto | cpu | cuda");
  fer::cli::add_choice(app, "--precision", f.precision, fer::kInferencePrecisionHelp);
  app.add_option("--threads", f.threads, "Threads for the network (LibTorch); 0: all cores")
      ->check(fer::cli::at_least(0));
  app.add_option("--io-threads", f.io_threads,
                 "Threads reading requests, decoding and finding faces; 0: all cores")
      ->check(fer::cli::at_least(0));
  app.add_option("--max-batch", f.max_batch, "Faces per forward pass at most (default 32)")
      ->check(fer::cli::above(0));
  app.add_option("--max-wait-ms", f.max_wait_ms,
                 "How long the first face of a batch waits for others (default 2 ms; 0: no wait)")
      ->check(fer::cli::between(0, 1000));
  app.add_option("--max-concurrent", f.service.max_concurrent,
                 "Requests answered at once; more get 503 + Retry-After (default 64)")
      ->check(fer::cli::above(0));
  app.add_option("--max-body-mb", f.max_body_mb,
                 "Largest request body in MiB (default 16); more: 413")
      ->check(fer::cli::between(0.001, 1024));
  app.add_option("--reload-seconds", f.reload_seconds,
                 "How often to look for a new best.pt (default 1; 0: never reload)")
      ->check(fer::cli::at_least(0));
  app.add_option("--top-k", f.service.top_k, "Emotions in each face's \"top\" list (default 3)")
      ->check(CLI::Range(1, fer::kNumEmotions));
  app.add_flag("--no-detect", f.no_detect,
               "No face detection by default: each image is one pre-cropped face (?detect=1 "
               "asks for detection)");
  app.add_option("--fallback", f.fallback,
                 "When no face is found: none (an empty list) | whole (classify the whole image)")
      ->check(CLI::IsMember({"none", "whole"}));
  fer::cli::add_face_finding_options(app, f.service.faces, f.cascade);
  app.add_flag("-q,--quiet", f.quiet, "Only errors and warnings on stderr");
}

// Loads the model, serves until SIGINT or SIGTERM, then drains what is in flight.
int serve(ServeFlags& f, const fer::ImageLimits& limits) {
  const std::string token = fer::http::load_token(f.token_file, "FER_SERVE_TOKEN");
  fer::http::require_token_off_loopback(
      f.listen, token, "--token-file FILE or the FER_SERVE_TOKEN environment variable");
  const auto endpoint =
      fer::http::endpoint_for(f.listen, static_cast<std::uint16_t>(f.port), "--listen");
  const int torch_threads = fer::threads_per_process(f.threads);
  const int http_threads = f.io_threads > 0 ? f.io_threads : fer::threads_per_process(0);
  fer::configure_cpu_threads(1);  // OpenCV: the HTTP threads already run in parallel
  const auto log = [quiet = f.quiet](const std::string& line) {
    if (!quiet || line.rfind("warning", 0) == 0) std::cerr << "fer-serve: " << line << std::endl;
  };

  f.service.faces.detect = !f.no_detect;
  f.service.faces.fallback_whole = f.fallback == "whole";
  f.service.faces.detector.cascade = f.cascade;
  f.service.limits = limits;
  f.service.token = token;
#ifdef FER_VERSION
  f.service.server_name = "fer-serve/" FER_VERSION;
#endif
  f.follow.checkpoints_dir = f.checkpoints_dir;
  f.follow.classifier.device = f.device;
  f.follow.classifier.precision = f.precision;
  f.follow.classifier.threads = torch_threads;
  f.follow.batch_size = static_cast<int>(f.max_batch);
  f.follow.poll = std::chrono::milliseconds(static_cast<long long>(f.reload_seconds * 1000));
  f.batching.max_faces = f.max_batch;
  f.batching.max_wait = std::chrono::microseconds(static_cast<long long>(f.max_wait_ms * 1000));

  fer::serve::ServeMetrics metrics;
  fer::serve::ModelFollower models(f.follow, &metrics, log);
  const auto source = [&models] { return models.current(); };
  fer::serve::MicroBatcher batcher(source, f.batching, &metrics);
  fer::serve::PredictService routes(f.service, batcher, source, metrics);

  boost::asio::io_context io;
  fer::http::ServerOptions server_options;
  server_options.name = f.service.server_name;
  server_options.what = "fer-serve";
  server_options.body_limit = static_cast<std::uint64_t>(f.max_body_mb * 1024 * 1024);
  server_options.max_sessions = f.service.max_concurrent * 4 + 16;
  server_options.error_page = [&](const fer::http::Request& req, fer::http::Status status,
                                  const std::string& reason) {
    return fer::serve::json_error(req, status, reason, f.service.server_name);
  };
  fer::http::Server server(
      io, endpoint,
      [&routes](const fer::http::Request& req, fer::http::Respond respond) {
        routes.handle(req, std::move(respond));
      },
      server_options);

  // SIGINT/SIGTERM: refuse new predictions, let those in flight finish (up to 10 s),
  // then stop.
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  int stopped_by = 0;
  std::thread stopper;
  signals.async_wait([&](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    stopped_by = signal;
    routes.refuse_new();
    stopper = std::thread([&] {
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
      while (metrics.in_flight > 0 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      server.stop();
      io.stop();
    });
  });

  models.start();
  const std::string host = endpoint.address().is_v6() ? "[" + f.listen + "]" : f.listen;
  // The port line is what scripts wait for (with --port 0 it is the only way to know).
  std::printf(
      "fer-serve: serving %s on http://%s:%u/ (%d HTTP thread%s, %d network thread%s, %s, "
      "batches of up to %zu faces within %.3g ms%s)\n",
      models.current()->description.c_str(), host.c_str(), server.port(), http_threads,
      http_threads == 1 ? "" : "s", torch_threads, torch_threads == 1 ? "" : "s",
      std::string(fer::name_of(f.precision)).c_str(), f.max_batch, f.max_wait_ms,
      token.empty() ? "" : "; token required");
  std::fflush(stdout);

  std::vector<std::thread> pool;
  for (int i = 1; i < http_threads; ++i) pool.emplace_back([&io] { io.run(); });
  io.run();
  for (std::thread& thread : pool) thread.join();
  if (stopper.joinable()) stopper.join();
  batcher.stop();
  log(std::string("stopped by ") + (stopped_by == SIGINT ? "SIGINT" : "SIGTERM") + " after " +
      std::to_string(metrics.requests_total()) + " requests");
  return fer::kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  const fer::ImageLimits limits;
  CLI::App app{
      "fer-serve: serves a fer-train checkpoint over HTTP. POST an image to /v1/predict and get\n"
      "the faces (OpenCV's Haar cascade), their boxes and all 7 emotion probabilities as JSON;\n"
      "open / in a browser to drop an image or use the webcam.\n"
      "  fer-serve                                   newest run's best.pt on 127.0.0.1:8080\n"
      "  curl --data-binary @photo.jpg localhost:8080/v1/predict\n"
      "  curl -F image=@photo.jpg 'localhost:8080/v1/predict?top_k=1'\n"
      "  curl --data-binary @face48.png 'localhost:8080/v1/predict?detect=0'   pre-cropped face\n"
      "  FER_SERVE_TOKEN=$(head -c 24 /dev/urandom | base64) fer-serve --listen 0.0.0.0\n"
      "Concurrent requests share forward passes (micro-batching: up to --max-batch faces or\n"
      "--max-wait-ms). With a run (or best/latest) as --checkpoint it follows the run's best.pt\n"
      "and swaps models without dropping a request. Other routes: GET /v1/model, /healthz,\n"
      "/metrics (Prometheus). Errors are JSON {\"error\", \"status\"}: 400 bad image, 401 token,\n"
      "413 too large, 415 content type, 503 busy (with Retry-After).\n"
      "Exit codes: 0 stopped by SIGINT/SIGTERM, 1 failure, 2 usage or configuration error,\n"
      "3 corrupt checkpoint."};
  ServeFlags flags;
  declare_options(app, flags);
  if (const auto code = fer::cli::parse(app, argc, argv, "fer-serve")) return *code;
  return fer::run_tool("fer-serve", [&] { return serve(flags, limits); });
}
