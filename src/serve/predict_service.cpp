#include "serve/predict_service.hpp"

#include <charconv>
#include <chrono>
#include <nlohmann/json.hpp>

#include "common/embedded_file.hpp"
#include "predict/prediction_output.hpp"
#include "serve/request_body.hpp"

namespace fer::serve {

const std::vector<EmbeddedFile>& page_files();  // generated: page_files.cpp

namespace {

using ordered_json = nlohmann::ordered_json;
namespace beast_http = http::beast_http;

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string content_type_of(std::string_view name) {
  const auto ends_with = [&](std::string_view suffix) {
    return name.size() >= suffix.size() && name.substr(name.size() - suffix.size()) == suffix;
  };
  if (ends_with(".html")) return "text/html; charset=utf-8";
  if (ends_with(".css")) return "text/css; charset=utf-8";
  if (ends_with(".js")) return "text/javascript; charset=utf-8";
  return "application/octet-stream";
}

ordered_json model_json(const ServedModel& model) {
  ordered_json out;
  out["run"] = model.labels.run;
  out["file"] = model.labels.file;
  out["epoch"] = model.labels.epoch;
  out["sha256"] = model.labels.sha256;
  out["description"] = model.description;
  return out;
}

http::Response json_response(const http::Request& req, http::Status status,
                             const ordered_json& body, const std::string& server_name) {
  return http::make_response(req, status, server_name, "application/json",
                             body.dump(-1, ' ', false, ordered_json::error_handler_t::replace));
}

// Parses ?name=N within [low, high]; throws RequestError(400) naming the parameter.
int int_parameter(std::string_view target, std::string_view name, int fallback, int low, int high) {
  const std::string_view text = http::query_value(target, name);
  if (text.empty()) return fallback;
  int value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < low || value > high)
    throw RequestError(400, std::string(name) + "=" + std::string(text) +
                                ": expected a whole number from " + std::to_string(low) + " to " +
                                std::to_string(high));
  return value;
}

}  // namespace

http::Response json_error(const http::Request& req, http::Status status, const std::string& message,
                          const std::string& server_name) {
  ordered_json body;
  body["error"] = message;
  body["status"] = static_cast<int>(status);
  return json_response(req, status, body, server_name);
}

PredictService::PredictService(ServiceOptions options, MicroBatcher& batcher, ModelSource models,
                               ServeMetrics& metrics)
    : options_(std::move(options)),
      batcher_(batcher),
      models_(std::move(models)),
      metrics_(metrics) {
  give_back(take_finder());  // a missing cascade fails here, not on the first request
}

PredictService::~PredictService() = default;

std::unique_ptr<FaceFinder> PredictService::take_finder() {
  {
    std::lock_guard<std::mutex> lock(finders_mutex_);
    if (!finders_.empty()) {
      auto finder = std::move(finders_.back());
      finders_.pop_back();
      return finder;
    }
  }
  return std::make_unique<FaceFinder>(options_.faces);
}

void PredictService::give_back(std::unique_ptr<FaceFinder> finder) {
  std::lock_guard<std::mutex> lock(finders_mutex_);
  finders_.push_back(std::move(finder));
}

void PredictService::handle(const http::Request& req, http::Respond respond) {
  const double started = now();
  const std::string_view target(req.target().data(), req.target().size());
  const std::string path(http::path_of(target));
  const std::string& name = options_.server_name;
  // Every answer goes through here: counted by route and code, timed.
  const std::string route =
      path == "/v1/predict" || path == "/v1/model" || path == "/healthz" || path == "/metrics"
          ? path
          : "other";
  auto answer = [this, respond = std::move(respond), route, started](http::Response res) {
    metrics_.record_request(route, static_cast<int>(res.result_int()), now() - started);
    respond(std::move(res));
  };
  const bool get = req.method() == beast_http::verb::get || req.method() == beast_http::verb::head;
  const auto wrong_method = [&](const char* allowed) {
    auto res = json_error(req, http::Status::method_not_allowed,
                          "method not allowed: " + std::string(req.method_string()) + " " + path +
                              " (use " + allowed + ")",
                          name);
    res.set(beast_http::field::allow, allowed);
    answer(std::move(res));
  };

  if (path == "/healthz") {
    if (!get) return wrong_method("GET, HEAD");
    const auto model = models_();
    ordered_json body;
    body["status"] = model ? "ok" : "no model";
    if (model) body["model"] = model_json(*model);
    return answer(json_response(req, model ? http::Status::ok : http::Status::service_unavailable,
                                body, name));
  }
  // The page's own files hold no data (what it shows comes from /v1/* with the token
  // it was opened with): a browser loads them without one.
  const std::string file = path == "/" ? "index.html" : path.substr(1);
  if (const EmbeddedFile* page = find_embedded(page_files(), file)) {
    if (!get) return wrong_method("GET, HEAD");
    return answer(http::make_response(req, http::Status::ok, name, content_type_of(file),
                                      std::string(page->content)));
  }
  if (!http::authorised(req, options_.token)) {
    auto res = json_error(
        req, http::Status::unauthorized,
        "this server needs its token (Authorization: Bearer TOKEN, or ?token=TOKEN)", name);
    res.set(beast_http::field::www_authenticate, "Bearer");
    return answer(std::move(res));
  }
  if (path == "/v1/predict") {
    if (req.method() != beast_http::verb::post) return wrong_method("POST");
    return predict(req, std::move(answer));
  }
  if (path == "/v1/model") {
    if (!get) return wrong_method("GET, HEAD");
    const auto model = models_();
    if (!model)
      return answer(json_error(req, http::Status::service_unavailable, "no model loaded", name));
    return answer(json_response(req, http::Status::ok, model_json(*model), name));
  }
  if (path == "/metrics") {
    if (!get) return wrong_method("GET, HEAD");
    return answer(http::make_response(req, http::Status::ok, name,
                                      "text/plain; version=0.0.4; charset=utf-8",
                                      metrics_.prometheus_text()));
  }
  answer(json_error(
      req, http::Status::not_found,
      "not found: " + path + " (POST /v1/predict; GET /, /v1/model, /healthz, /metrics)", name));
}

void PredictService::predict(const http::Request& req, http::Respond answer) {
  const std::string& name = options_.server_name;
  // The concurrency cap: counted from here until the answer is handed over.
  const std::int64_t in_flight = ++metrics_.in_flight;
  auto release = [this](http::Respond& respond, http::Response res) {
    --metrics_.in_flight;
    respond(std::move(res));
  };
  const auto busy = [&](const std::string& why) {
    ++metrics_.rejected_busy;
    auto res = json_error(req, http::Status::service_unavailable, why, name);
    res.set(beast_http::field::retry_after, "1");
    release(answer, std::move(res));
  };
  if (refusing_) return busy("the server is shutting down");
  if (in_flight > static_cast<std::int64_t>(options_.max_concurrent))
    return busy("busy: " + std::to_string(options_.max_concurrent) +
                " requests are being answered (the --max-concurrent cap); retry shortly");

  auto image = std::make_shared<ImagePrediction>();
  std::vector<cv::Mat> crops;
  bool detect = options_.faces.detect;
  int top_k = options_.top_k;
  try {
    const std::string_view target(req.target().data(), req.target().size());
    detect = int_parameter(target, "detect", detect ? 1 : 0, 0, 1) == 1;
    top_k = int_parameter(target, "top_k", top_k, 1, kNumEmotions);
    const auto content_type = req[beast_http::field::content_type];
    const std::string_view bytes =
        image_bytes(std::string_view(content_type.data(), content_type.size()), req.body());
    cv::Mat picture;
    try {
      picture = decode_image(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size(),
                             options_.limits);
    } catch (const ImageError& e) {
      const std::string what = e.what();
      const bool too_large = what.find("exceeds") != std::string::npos;
      throw RequestError(too_large ? 413 : 400, std::string("image: ") + what);
    }
    const cv::Mat gray = to_gray(picture);
    if (detect) {
      std::unique_ptr<FaceFinder> finder = take_finder();
      try {
        finder->find(gray, *image, crops);
      } catch (...) {
        give_back(std::move(finder));
        throw;
      }
      give_back(std::move(finder));
    } else {
      FaceFinderOptions whole = options_.faces;
      whole.detect = false;
      FaceFinder(whole).find(gray, *image, crops);
    }
  } catch (const RequestError& e) {
    return release(answer, json_error(req, static_cast<http::Status>(e.status()), e.what(), name));
  } catch (const cv::Exception& e) {
    return release(answer,
                   json_error(req, http::Status::bad_request, "image: OpenCV: " + e.err, name));
  } catch (const std::bad_alloc&) {
    return release(answer, json_error(req, http::Status::payload_too_large,
                                      "image: out of memory while decoding", name));
  }

  // The answer's frame; the faces are filled in when the batch is back.
  auto respond = std::make_shared<http::Respond>(std::move(answer));
  auto request = std::make_shared<http::Request>();
  request->version(req.version());
  request->keep_alive(req.keep_alive());
  request->method(req.method());
  auto finish = [release, respond, request, image, detect, top_k,
                 name](BatchResult result) mutable {
    if (!result.error.empty()) {
      auto res = json_error(*request, http::Status::service_unavailable, result.error, name);
      res.set(beast_http::field::retry_after, "1");
      return release(*respond, std::move(res));
    }
    ordered_json body;
    if (result.model) body["model"] = model_json(*result.model);
    body["width"] = image->width;
    body["height"] = image->height;
    body["detect"] = detect;
    body["faces"] = ordered_json::array();
    for (std::size_t i = 0; i < image->faces.size(); ++i) {
      image->faces[i].probabilities = result.probabilities[i];
      ordered_json face;
      face["face"] = i;
      face.update(face_record(image->faces[i], top_k));
      body["faces"].push_back(std::move(face));
    }
    release(*respond, json_response(*request, http::Status::ok, body, name));
  };
  if (crops.empty()) {  // no face: nothing for the network
    BatchResult none;
    none.model = models_();
    return finish(std::move(none));
  }
  if (!batcher_.submit(std::move(crops), finish)) {
    ++metrics_.rejected_busy;
    auto res = json_error(*request, http::Status::service_unavailable,
                          "busy: the batch queue is full; retry shortly", name);
    res.set(beast_http::field::retry_after, "1");
    release(*respond, std::move(res));
  }
}

}  // namespace fer::serve
