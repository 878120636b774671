#pragma once
// fer-serve's HTTP routes, on fer::http::Server:
//   POST /v1/predict   an image as the body (image/*, application/octet-stream, curl's
//                      default form type) or as
//                      the "image" part of multipart/form-data. Query: detect=0 (the
//                      whole image is one face, as FER2013's crops), top_k=1..7.
//                      200: {"model": {run, file, epoch, sha256}, "width", "height",
//                      "detect", "faces": [{face, box {x,y,width,height}, detected,
//                      emotion, probability, top [...], probabilities {7}}]}
//   GET  /v1/model     the model being served
//   GET  /healthz      {"status": "ok", "model": {...}} (no token needed)
//   GET  /metrics      Prometheus text (serve_metrics.hpp)
//   GET  /             the page (page/index.html, app.js, style.css; no token needed:
//                      the page holds no data and sends its ?token= to the routes above)
// Errors are JSON, {"error": "one line", "status": N}: 400 bad image or body, 401
// token, 404, 405, 413 body or image too large, 415 content type, 503 + Retry-After
// at the concurrency cap or while shutting down.
//
// Decoding and face detection run on the HTTP thread that read the request; the
// faces then wait in the MicroBatcher, whose thread answers.

#include <atomic>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "http/http_server.hpp"
#include "predict/face_finder.hpp"
#include "predict/image_loading.hpp"
#include "serve/micro_batcher.hpp"
#include "serve/serve_metrics.hpp"

namespace fer::serve {

struct ServiceOptions {
  FaceFinderOptions faces;          // detection on by default (?detect=0 turns it off)
  ImageLimits limits;               // pixel and dimension caps, as fer-predict's
  int top_k = 3;                    // "top" entries per face unless ?top_k= says otherwise
  std::size_t max_concurrent = 64;  // requests being answered at once; beyond: 503
  std::string token;                // empty: none needed (loopback)
  std::string server_name = "fer-serve";
};

class PredictService {
 public:
  // Loads the cascade once to fail early (InputError) when it is missing.
  PredictService(ServiceOptions options, MicroBatcher& batcher, ModelSource models,
                 ServeMetrics& metrics);
  ~PredictService();

  void handle(const http::Request& req, http::Respond respond);
  // From now on every request is answered 503 (for a clean shutdown).
  void refuse_new() { refusing_ = true; }

 private:
  void predict(const http::Request& req, http::Respond respond);
  // A FaceFinder for this request (detectors are not shared between threads).
  std::unique_ptr<FaceFinder> take_finder();
  void give_back(std::unique_ptr<FaceFinder> finder);

  ServiceOptions options_;
  MicroBatcher& batcher_;
  ModelSource models_;
  ServeMetrics& metrics_;
  std::mutex finders_mutex_;
  std::vector<std::unique_ptr<FaceFinder>> finders_;
  std::atomic<bool> refusing_{false};
};

// {"error": message, "status": code} as an HTTP response.
http::Response json_error(const http::Request& req, http::Status status, const std::string& message,
                          const std::string& server_name);

}  // namespace fer::serve
