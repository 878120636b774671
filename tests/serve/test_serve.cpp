// fer-serve's pieces in one process: the request body rules, the micro-batcher with a
// fake model (batch formation, order, model swaps, back-pressure, shutdown), the
// metrics text, and the routes on a real fer::http::Server over TCP on 127.0.0.1
// (a fake model that blocks on demand makes the concurrency cap deterministic).
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <condition_variable>
#include <future>
#include <mutex>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <thread>

#include "http/http_server.hpp"
#include "serve/micro_batcher.hpp"
#include "serve/predict_service.hpp"
#include "serve/request_body.hpp"
#include "serve/serve_metrics.hpp"

namespace {

using fer::Probabilities;
using fer::serve::BatchOptions;
using fer::serve::BatchResult;
using fer::serve::MicroBatcher;
using fer::serve::RequestError;
using fer::serve::ServedModel;
using namespace std::chrono_literals;

int status_of(const std::function<void()>& call) {
  try {
    call();
  } catch (const RequestError& e) {
    return e.status();
  }
  return 0;
}

// --- request bodies -----------------------------------------------------------------

TEST(RequestBody, RawBodiesAreTheImage) {
  EXPECT_EQ(fer::serve::image_bytes("image/png", "PNGDATA"), "PNGDATA");
  EXPECT_EQ(fer::serve::image_bytes("", "x"), "x");
  EXPECT_EQ(fer::serve::image_bytes("application/octet-stream", "x"), "x");
  EXPECT_EQ(fer::serve::image_bytes("application/x-www-form-urlencoded", "x"), "x");  // curl
  EXPECT_EQ(status_of([] { fer::serve::image_bytes("image/jpeg", ""); }), 400);
  EXPECT_EQ(status_of([] { fer::serve::image_bytes("text/plain", "x"); }), 415);
  EXPECT_EQ(status_of([] { fer::serve::image_bytes("application/json", "{}"); }), 415);
}

std::string multipart(const std::string& boundary,
                      const std::vector<std::pair<std::string, std::string>>& parts) {
  std::string body = "preamble\r\n";
  for (const auto& [headers, data] : parts)
    body += "--" + boundary + "\r\n" + headers + "\r\n\r\n" + data + "\r\n";
  return body + "--" + boundary + "--\r\n";
}

TEST(RequestBody, MultipartPicksTheImagePart) {
  const std::string type = "multipart/form-data; boundary=\"XyZ;1\"";
  const std::string body =
      multipart("XyZ;1", {{"Content-Disposition: form-data; name=\"note\"", "hello"},
                          {"Content-Disposition: form-data; name=\"image\"; filename=\"a.png\"\r\n"
                           "Content-Type: image/png",
                           std::string("\x89PNG\r\n--not-a-boundary\0\xff", 22)}});
  EXPECT_EQ(fer::serve::image_bytes(type, body),
            std::string("\x89PNG\r\n--not-a-boundary\0\xff", 22));
  // No part named image: the first with a file name; a single part: that one.
  const std::string file_part = multipart(
      "b", {{"Content-Disposition: form-data; name=\"x\"", "1"},
            {"Content-Disposition: form-data; name=\"upload\"; filename=\"f.jpg\"", "JPEG"}});
  EXPECT_EQ(fer::serve::image_bytes("multipart/form-data; boundary=b", file_part), "JPEG");
  const std::string single =
      multipart("b", {{"Content-Disposition: form-data; name=\"pic\"", "P"}});
  EXPECT_EQ(fer::serve::image_bytes("Multipart/Form-Data; Boundary=b", single), "P");
}

TEST(RequestBody, MalformedMultipartIs400) {
  const std::string type = "multipart/form-data; boundary=b";
  EXPECT_EQ(status_of([&] { fer::serve::image_bytes("multipart/form-data", "--b\r\n"); }), 400);
  EXPECT_EQ(status_of([&] { fer::serve::image_bytes(type, "no delimiter at all"); }), 400);
  EXPECT_EQ(status_of([&] {
              fer::serve::image_bytes(type,
                                      "--b\r\nContent-Disposition: form-data; name=image\r\n\r\nX");
            }),
            400);                                                                  // never closed
  EXPECT_EQ(status_of([&] { fer::serve::image_bytes(type, "--b--\r\n"); }), 400);  // no part
  const std::string two = multipart("b", {{"Content-Disposition: form-data; name=\"a\"", "1"},
                                          {"Content-Disposition: form-data; name=\"c\"", "2"}});
  EXPECT_EQ(status_of([&] { fer::serve::image_bytes(type, two); }), 400);  // which one?
  const std::string empty =
      multipart("b", {{"Content-Disposition: form-data; name=\"image\"", ""}});
  EXPECT_EQ(status_of([&] { fer::serve::image_bytes(type, empty); }), 400);
  EXPECT_EQ(status_of([&] {
              fer::serve::image_bytes("multipart/form-data; boundary=" + std::string(71, 'x'), "x");
            }),
            400);
}

TEST(RequestBody, HeaderParameters) {
  EXPECT_EQ(
      fer::serve::header_parameter("form-data; name=\"image\"; filename=\"a;b.jpg\"", "filename"),
      "a;b.jpg");
  EXPECT_EQ(fer::serve::header_parameter("form-data; filename=\"x\"; name=img", "name"), "img");
  EXPECT_EQ(fer::serve::header_parameter("form-data", "name"), "");
  EXPECT_EQ(fer::serve::header_parameter("a; q=\"say \\\"hi\\\"\"", "q"), "say \"hi\"");
}

// --- the micro-batcher -----------------------------------------------------------------

// Probabilities that encode the face's first pixel, so order and routing can be checked;
// records every batch size; optionally blocks each forward pass until released.
class FakeClassifier : public fer::FaceClassifier {
 public:
  explicit FakeClassifier(double tag = 0) : tag_(tag) {}
  void classify(const std::vector<cv::Mat>& faces, std::vector<Probabilities>& out) override {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      batches_.push_back(faces.size());
      ++entered_;
      changed_.notify_all();
      changed_.wait(lock, [&] { return !blocking_; });
    }
    out.clear();
    for (const cv::Mat& face : faces) {
      Probabilities p{};
      p[0] = face.at<unsigned char>(0, 0) / 255.0;
      p[1] = tag_;
      out.push_back(p);
    }
  }
  void block(bool on) {
    std::lock_guard<std::mutex> lock(mutex_);
    blocking_ = on;
    changed_.notify_all();
  }
  void wait_entered(int n) {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [&] { return entered_ >= n; });
  }
  std::vector<std::size_t> batches() {
    std::lock_guard<std::mutex> lock(mutex_);
    return batches_;
  }

 private:
  double tag_;
  std::mutex mutex_;
  std::condition_variable changed_;
  bool blocking_ = false;
  int entered_ = 0;
  std::vector<std::size_t> batches_;
};

std::shared_ptr<const ServedModel> served(std::shared_ptr<FakeClassifier> classifier, int epoch) {
  auto model = std::make_shared<ServedModel>();
  model->classifier = std::move(classifier);
  model->labels.epoch = epoch;
  model->labels.file = "epoch-000" + std::to_string(epoch) + ".pt";
  model->description = "fake " + std::to_string(epoch);
  return model;
}

std::vector<cv::Mat> faces_with(std::initializer_list<int> values) {
  std::vector<cv::Mat> faces;
  for (int v : values) faces.emplace_back(48, 48, CV_8UC1, cv::Scalar(v));
  return faces;
}

TEST(MicroBatcher, ConcurrentRequestsShareAForwardPassAndGetTheirOwnAnswers) {
  auto classifier = std::make_shared<FakeClassifier>();
  const auto model = served(classifier, 1);
  BatchOptions options;
  options.max_faces = 64;
  options.max_wait = 200ms;  // long enough for all submissions to meet
  fer::serve::ServeMetrics metrics;
  metrics.in_flight = 8;  // 8 requests being answered: the batcher waits for all of them
  MicroBatcher batcher([&] { return model; }, options, &metrics);
  std::vector<std::promise<BatchResult>> results(8);
  for (int i = 0; i < 8; ++i)
    ASSERT_TRUE(batcher.submit(faces_with({i * 10, i * 10 + 1}),
                               [&, i](BatchResult r) { results[i].set_value(std::move(r)); }));
  for (int i = 0; i < 8; ++i) {
    const BatchResult r = results[i].get_future().get();
    ASSERT_TRUE(r.error.empty()) << r.error;
    ASSERT_EQ(r.probabilities.size(), 2u);
    EXPECT_DOUBLE_EQ(r.probabilities[0][0], (i * 10) / 255.0);
    EXPECT_DOUBLE_EQ(r.probabilities[1][0], (i * 10 + 1) / 255.0);
    EXPECT_EQ(r.model, model);
  }
  EXPECT_EQ(classifier->batches(), std::vector<std::size_t>{16});  // one pass for all 8
  EXPECT_NE(metrics.prometheus_text().find("fer_serve_batch_requests_bucket{le=\"8\"} 1"),
            std::string::npos);
}

TEST(MicroBatcher, WhenEveryRequestInFlightIsQueuedItDoesNotWait) {
  auto classifier = std::make_shared<FakeClassifier>();
  const auto model = served(classifier, 1);
  BatchOptions options;
  options.max_wait = 10s;
  fer::serve::ServeMetrics metrics;
  MicroBatcher batcher([&] { return model; }, options, &metrics);
  metrics.in_flight = 1;  // the one request, and it is queued below
  const auto start = std::chrono::steady_clock::now();
  std::promise<BatchResult> lone;
  ASSERT_TRUE(batcher.submit(faces_with({1}), [&](BatchResult r) { lone.set_value(r); }));
  lone.get_future().get();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);  // not the 10 s max_wait
}

TEST(MicroBatcher, BatchesStopAtMaxFacesAndALoneRequestWaitsAtMostMaxWait) {
  auto classifier = std::make_shared<FakeClassifier>();
  const auto model = served(classifier, 1);
  BatchOptions options;
  options.max_faces = 4;
  options.max_wait = 20ms;
  MicroBatcher batcher([&] { return model; }, options, nullptr);
  classifier->block(true);  // hold the first pass so that the rest queue up
  std::vector<std::promise<BatchResult>> results(4);
  ASSERT_TRUE(batcher.submit(faces_with({1}), [&](BatchResult r) { results[0].set_value(r); }));
  classifier->wait_entered(1);
  ASSERT_TRUE(
      batcher.submit(faces_with({2, 3, 4}), [&](BatchResult r) { results[1].set_value(r); }));
  ASSERT_TRUE(batcher.submit(faces_with({5, 6}), [&](BatchResult r) { results[2].set_value(r); }));
  ASSERT_TRUE(batcher.submit(faces_with({7, 8, 9, 10, 11}),  // larger than a batch: alone
                             [&](BatchResult r) { results[3].set_value(r); }));
  classifier->block(false);
  for (auto& r : results) EXPECT_TRUE(r.get_future().get().error.empty());
  EXPECT_EQ(classifier->batches(), (std::vector<std::size_t>{1, 3, 2, 5}));

  const auto start = std::chrono::steady_clock::now();
  std::promise<BatchResult> lone;
  ASSERT_TRUE(batcher.submit(faces_with({1}), [&](BatchResult r) { lone.set_value(r); }));
  lone.get_future().get();
  const auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_GE(waited, 15ms);
  EXPECT_LT(waited, 2s);
}

TEST(MicroBatcher, EachBatchUsesTheModelCurrentWhenItStarts) {
  auto old_classifier = std::make_shared<FakeClassifier>(1.0);
  auto new_classifier = std::make_shared<FakeClassifier>(2.0);
  std::mutex mutex;
  std::shared_ptr<const ServedModel> current = served(old_classifier, 1);
  BatchOptions options;
  options.max_wait = 0ms;
  MicroBatcher batcher(
      [&] {
        std::lock_guard<std::mutex> lock(mutex);
        return current;
      },
      options, nullptr);
  old_classifier->block(true);
  std::promise<BatchResult> first, second;
  ASSERT_TRUE(batcher.submit(faces_with({1}), [&](BatchResult r) { first.set_value(r); }));
  old_classifier->wait_entered(1);
  {
    std::lock_guard<std::mutex> lock(mutex);
    current = served(new_classifier, 2);  // hot reload while a batch runs on the old one
  }
  ASSERT_TRUE(batcher.submit(faces_with({2}), [&](BatchResult r) { second.set_value(r); }));
  old_classifier->block(false);
  const BatchResult a = first.get_future().get(), b = second.get_future().get();
  EXPECT_EQ(a.model->labels.epoch, 1);
  EXPECT_DOUBLE_EQ(a.probabilities[0][1], 1.0);
  EXPECT_EQ(b.model->labels.epoch, 2);
  EXPECT_DOUBLE_EQ(b.probabilities[0][1], 2.0);
}

TEST(MicroBatcher, AFullQueueRefusesAndStoppingAnswersWhoWaits) {
  auto classifier = std::make_shared<FakeClassifier>();
  const auto model = served(classifier, 1);
  BatchOptions options;
  options.max_faces = 2;
  options.max_wait = 0ms;
  options.max_queued_faces = 3;
  auto batcher = std::make_unique<MicroBatcher>([&] { return model; }, options, nullptr);
  classifier->block(true);
  std::promise<BatchResult> running, queued;
  ASSERT_TRUE(batcher->submit(faces_with({1}), [&](BatchResult r) { running.set_value(r); }));
  classifier->wait_entered(1);
  ASSERT_TRUE(batcher->submit(faces_with({2, 3}), [&](BatchResult r) { queued.set_value(r); }));
  EXPECT_FALSE(batcher->submit(faces_with({4, 5}), [](BatchResult) { FAIL() << "called"; }));
  std::thread stopper([&] { batcher->stop(); });
  std::this_thread::sleep_for(20ms);
  classifier->block(false);
  stopper.join();
  EXPECT_TRUE(running.get_future().get().error.empty());
  EXPECT_EQ(queued.get_future().get().error, "the server is shutting down");
  EXPECT_FALSE(batcher->submit(faces_with({6}), [](BatchResult) {}));
}

// --- metrics ------------------------------------------------------------------------

TEST(ServeMetrics, HistogramsAreCumulativeAndLabelsEscaped) {
  fer::serve::Histogram histogram({1, 5});
  for (double v : {0.5, 1.0, 3.0, 9.0}) histogram.observe(v);
  std::string text;
  histogram.render(text, "h");
  EXPECT_EQ(text,
            "h_bucket{le=\"1\"} 2\nh_bucket{le=\"5\"} 3\nh_bucket{le=\"+Inf\"} 4\n"
            "h_sum 13.5\nh_count 4\n");
  fer::serve::ServeMetrics metrics;
  fer::serve::ModelLabels labels;
  labels.run = "a\"b\\c\nd";
  labels.epoch = 7;
  metrics.set_model(labels);
  metrics.record_request("/v1/predict", 200, 0.003);
  metrics.record_request("/v1/predict", 200, 0.004);
  metrics.record_request("/v1/predict", 413, 0.001);
  const std::string all = metrics.prometheus_text();
  EXPECT_NE(all.find("fer_serve_requests_total{route=\"/v1/predict\",code=\"200\"} 2"),
            std::string::npos);
  EXPECT_NE(all.find("fer_serve_requests_total{route=\"/v1/predict\",code=\"413\"} 1"),
            std::string::npos);
  EXPECT_NE(all.find("run=\"a\\\"b\\\\c\\nd\""), std::string::npos);
  EXPECT_NE(all.find("fer_serve_model_epoch 7"), std::string::npos);
  EXPECT_NE(all.find("fer_serve_request_seconds_count 3"), std::string::npos);
  EXPECT_EQ(metrics.requests_total(), 3u);
}

// --- the routes over TCP ---------------------------------------------------------------

namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = boost::asio::ip::tcp;

struct Answer {
  int status = 0;
  std::string body, retry_after;
  nlohmann::json json() const { return nlohmann::json::parse(body); }
};

Answer send(unsigned short port, bhttp::verb verb, const std::string& target, std::string body = "",
            const std::string& content_type = "image/png", const std::string& token = "") {
  boost::asio::io_context io;
  beast::tcp_stream stream(io);
  stream.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
  bhttp::request<bhttp::string_body> req{verb, target, 11};
  req.set(bhttp::field::host, "127.0.0.1");
  if (!content_type.empty() && !body.empty()) req.set(bhttp::field::content_type, content_type);
  if (!token.empty()) req.set(bhttp::field::authorization, "Bearer " + token);
  req.body() = std::move(body);
  req.prepare_payload();
  bhttp::write(stream, req);
  beast::flat_buffer buffer;
  bhttp::response<bhttp::string_body> res;
  bhttp::read(stream, buffer, res);
  return {static_cast<int>(res.result_int()), res.body(),
          std::string(res[bhttp::field::retry_after])};
}

std::string png_of(int side, int value) {
  std::vector<unsigned char> bytes;
  cv::imencode(".png", cv::Mat(side, side, CV_8UC1, cv::Scalar(value)), bytes);
  return std::string(bytes.begin(), bytes.end());
}

class Routes : public ::testing::Test {
 protected:
  void start(fer::serve::ServiceOptions options, std::uint64_t body_limit = 1 << 20) {
    model_ = served(classifier_, 3);
    BatchOptions batching;
    batching.max_wait = 0ms;
    batcher_ = std::make_unique<MicroBatcher>([this] { return model_; }, batching, &metrics_);
    options.faces.detect = false;  // whole images: no cascade needed for these tests
    service_ = std::make_unique<fer::serve::PredictService>(
        options, *batcher_, [this] { return model_; }, metrics_);
    fer::http::ServerOptions server_options;
    server_options.body_limit = body_limit;
    server_options.error_page = [](const fer::http::Request& req, fer::http::Status status,
                                   const std::string& reason) {
      return fer::serve::json_error(req, status, reason, "test");
    };
    server_ = std::make_unique<fer::http::Server>(
        io_, tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0),
        [this](const fer::http::Request& req, fer::http::Respond respond) {
          service_->handle(req, std::move(respond));
        },
        server_options);
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { io_.run(); });
  }
  void TearDown() override {
    classifier_->block(false);
    if (server_) server_->stop();
    io_.stop();
    for (auto& t : threads_) t.join();
    if (batcher_) batcher_->stop();
  }
  unsigned short port() const { return server_->port(); }

  std::shared_ptr<FakeClassifier> classifier_ = std::make_shared<FakeClassifier>();
  std::shared_ptr<const ServedModel> model_;
  fer::serve::ServeMetrics metrics_;
  std::unique_ptr<MicroBatcher> batcher_;
  std::unique_ptr<fer::serve::PredictService> service_;
  boost::asio::io_context io_;
  std::unique_ptr<fer::http::Server> server_;
  std::vector<std::thread> threads_;
};

TEST_F(Routes, PredictAnswersTheSchemaAndErrorsAreJson) {
  start({});
  const Answer ok = send(port(), bhttp::verb::post, "/v1/predict?top_k=2", png_of(64, 51));
  ASSERT_EQ(ok.status, 200) << ok.body;
  const auto body = ok.json();
  EXPECT_EQ(body["model"]["epoch"], 3);
  EXPECT_EQ(body["width"], 64);
  EXPECT_EQ(body["detect"], false);
  ASSERT_EQ(body["faces"].size(), 1u);
  const auto& face = body["faces"][0];
  EXPECT_EQ(face["box"], (nlohmann::json{{"x", 0}, {"y", 0}, {"width", 64}, {"height", 64}}));
  EXPECT_EQ(face["top"].size(), 2u);
  EXPECT_EQ(face["probabilities"].size(), 7u);
  EXPECT_NEAR(face["probabilities"]["Angry"].get<double>(), 51 / 255.0, 1e-9);  // the fake's tag

  const auto error = [&](const Answer& a, int status) {
    EXPECT_EQ(a.status, status) << a.body;
    const auto json = a.json();
    EXPECT_EQ(json["status"], status);
    EXPECT_FALSE(json["error"].get<std::string>().empty());
  };
  error(send(port(), bhttp::verb::post, "/v1/predict", "not an image"), 400);
  error(send(port(), bhttp::verb::post, "/v1/predict", png_of(8, 1).substr(0, 40)), 400);
  error(send(port(), bhttp::verb::post, "/v1/predict", "x", "text/plain"), 415);
  error(send(port(), bhttp::verb::post, "/v1/predict?top_k=9", png_of(8, 1)), 400);
  error(send(port(), bhttp::verb::post, "/v1/predict?detect=yes", png_of(8, 1)), 400);
  error(send(port(), bhttp::verb::get, "/v1/predict"), 405);
  error(send(port(), bhttp::verb::post, "/healthz", "x"), 405);
  error(send(port(), bhttp::verb::get, "/nope"), 404);
  error(send(port(), bhttp::verb::post, "/v1/predict", std::string(2 << 20, 'x')), 413);
  EXPECT_EQ(send(port(), bhttp::verb::get, "/healthz").json()["status"], "ok");
  EXPECT_EQ(send(port(), bhttp::verb::get, "/v1/model").json()["file"], "epoch-0003.pt");
  const Answer page = send(port(), bhttp::verb::get, "/");
  EXPECT_EQ(page.status, 200);
  EXPECT_NE(page.body.find("<script src=\"app.js\">"), std::string::npos);
  EXPECT_EQ(send(port(), bhttp::verb::get, "/app.js").status, 200);
}

TEST_F(Routes, PixelLimitsAre413) {
  fer::serve::ServiceOptions options;
  options.limits.max_side = 100;
  start(options);
  EXPECT_EQ(send(port(), bhttp::verb::post, "/v1/predict", png_of(101, 1)).status, 413);
  EXPECT_EQ(send(port(), bhttp::verb::post, "/v1/predict", png_of(100, 1)).status, 200);
}

TEST_F(Routes, TheConcurrencyCapAnswers503WithRetryAfter) {
  fer::serve::ServiceOptions options;
  options.max_concurrent = 2;
  start(options);
  classifier_->block(true);
  std::vector<std::future<Answer>> held;
  for (int i = 0; i < 2; ++i)
    held.push_back(std::async(std::launch::async, [&] {
      return send(port(), bhttp::verb::post, "/v1/predict", png_of(8, 1));
    }));
  classifier_->wait_entered(1);
  while (metrics_.in_flight.load() < 2) std::this_thread::sleep_for(1ms);
  const Answer refused = send(port(), bhttp::verb::post, "/v1/predict", png_of(8, 1));
  EXPECT_EQ(refused.status, 503) << refused.body;
  EXPECT_EQ(refused.retry_after, "1");
  EXPECT_EQ(send(port(), bhttp::verb::get, "/healthz").status, 200);  // not counted against it
  classifier_->block(false);
  for (auto& f : held) EXPECT_EQ(f.get().status, 200);
  EXPECT_EQ(send(port(), bhttp::verb::post, "/v1/predict", png_of(8, 1)).status, 200);
  EXPECT_NE(metrics_.prometheus_text().find("fer_serve_rejected_busy_total 1"), std::string::npos);
}

TEST_F(Routes, WithATokenEverythingButHealthzAndThePageNeedsIt) {
  fer::serve::ServiceOptions options;
  options.token = "0123456789abcdef-token";
  start(options);
  EXPECT_EQ(send(port(), bhttp::verb::post, "/v1/predict", png_of(8, 1)).status, 401);
  EXPECT_EQ(
      send(port(), bhttp::verb::post, "/v1/predict", png_of(8, 1), "image/png", "wrong").status,
      401);
  EXPECT_EQ(send(port(), bhttp::verb::get, "/metrics").status, 401);
  EXPECT_EQ(send(port(), bhttp::verb::get, "/v1/model").status, 401);
  EXPECT_EQ(send(port(), bhttp::verb::get, "/healthz").status, 200);
  EXPECT_EQ(send(port(), bhttp::verb::get, "/").status, 200);  // the page: no data
  EXPECT_EQ(send(port(), bhttp::verb::get, "/app.js").status, 200);
  EXPECT_EQ(send(port(), bhttp::verb::post, "/v1/predict", png_of(8, 1), "image/png", options.token)
                .status,
            200);
  EXPECT_EQ(send(port(), bhttp::verb::get, "/metrics?token=" + options.token).status, 200);
}

TEST(HttpHelpers, QueryAndPath) {
  EXPECT_EQ(fer::http::path_of("/v1/predict?top_k=3#x"), "/v1/predict");
  EXPECT_EQ(fer::http::query_value("/a?top_k=3&detect=0", "detect"), "0");
  EXPECT_EQ(fer::http::query_value("/a?xtop_k=3", "top_k"), "");
  EXPECT_EQ(fer::http::query_value("/a?top_k", "top_k"), "");
  EXPECT_EQ(fer::http::query_value("/a?t=1#token=2", "token"), "");
}

}  // namespace
