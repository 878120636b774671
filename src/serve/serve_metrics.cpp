#include "serve/serve_metrics.hpp"

#include <chrono>
#include <cmath>
#include <cstdio>

#include "http/http_server.hpp"

namespace fer::serve {
namespace {

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string number(double value) {
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char text[64];
  std::snprintf(text, sizeof text, "%.9g", value);
  return text;
}

std::string with(const std::string& labels, const std::string& more) {
  if (labels.empty()) return more;
  if (more.empty()) return labels;
  return labels + "," + more;
}

std::string braces(const std::string& labels) {
  return labels.empty() ? "" : "{" + labels + "}";
}

// One metric family's # HELP and # TYPE lines.
void family(std::string& out, const char* name, const char* type, const char* help) {
  out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}

// A family with a single unlabelled sample.
void single(std::string& out, const char* name, const char* type, const char* help,
            const std::string& value) {
  family(out, name, type, help);
  out += std::string(name) + " " + value + "\n";
}

void histogram(std::string& out, const char* name, const char* help, const Histogram& h) {
  family(out, name, "histogram", help);
  h.render(out, name);
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::observe(double value) {
  std::size_t bucket = 0;
  while (bucket < bounds_.size() && value > bounds_[bucket]) ++bucket;
  std::lock_guard<std::mutex> lock(mutex_);
  ++counts_[bucket];
  sum_ += value;
  ++count_;
}

std::uint64_t Histogram::count() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return count_;
}

void Histogram::render(std::string& out, const std::string& name, const std::string& labels) const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    cumulative += counts_[i];
    const std::string le = i < bounds_.size() ? number(bounds_[i]) : "+Inf";
    out += name + "_bucket" + braces(with(labels, "le=\"" + le + "\"")) + " " +
           std::to_string(cumulative) + "\n";
  }
  out += name + "_sum" + braces(labels) + " " + number(sum_) + "\n";
  out += name + "_count" + braces(labels) + " " + std::to_string(count_) + "\n";
}

ServeMetrics::ServeMetrics()
    : latency_({0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5}),
      batch_faces_({1, 2, 4, 8, 16, 32, 64, 128, 256}),
      batch_requests_({1, 2, 4, 8, 16, 32, 64}),
      forward_({0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1}),
      started_(now_seconds()) {}

void ServeMetrics::record_request(const std::string& route, int status, double seconds) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ++requests_[{route, status}];
  }
  if (route == "/v1/predict") latency_.observe(seconds);
}

void ServeMetrics::record_batch(std::size_t faces, std::size_t requests, double forward_seconds) {
  batch_faces_.observe(static_cast<double>(faces));
  batch_requests_.observe(static_cast<double>(requests));
  forward_.observe(forward_seconds);
}

void ServeMetrics::set_model(const ModelLabels& model) {
  std::lock_guard<std::mutex> lock(mutex_);
  model_ = model;
}

void ServeMetrics::record_reload(bool ok) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++(ok ? reloads_ : reload_failures_);
}

std::uint64_t ServeMetrics::requests_total() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::uint64_t total = 0;
  for (const auto& entry : requests_) total += entry.second;
  return total;
}

std::string ServeMetrics::prometheus_text() const {
  std::string out;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    family(out, "fer_serve_requests_total", "counter",
           "HTTP requests answered, by route and status code.");
    for (const auto& [key, count] : requests_)
      out += "fer_serve_requests_total{route=\"" + http::prometheus_label(key.first) +
             "\",code=\"" + std::to_string(key.second) + "\"} " + std::to_string(count) + "\n";
    family(out, "fer_serve_model_info", "gauge", "The model being served (value 1).");
    out += "fer_serve_model_info{run=\"" + http::prometheus_label(model_.run) + "\",file=\"" +
           http::prometheus_label(model_.file) + "\",epoch=\"" + std::to_string(model_.epoch) +
           "\",sha256=\"" + http::prometheus_label(model_.sha256) + "\"} 1\n";
    single(out, "fer_serve_model_epoch", "gauge", "The served checkpoint's epoch.",
           std::to_string(model_.epoch));
    single(out, "fer_serve_model_reloads_total", "counter", "Models swapped in while serving.",
           std::to_string(reloads_));
    single(out, "fer_serve_model_reload_failures_total", "counter",
           "Checkpoints that could not be loaded (the previous model stayed).",
           std::to_string(reload_failures_));
  }
  histogram(out, "fer_serve_request_seconds",
            "Time from a whole request read to its answer (POST /v1/predict).", latency_);
  histogram(out, "fer_serve_batch_faces", "Faces per forward pass.", batch_faces_);
  histogram(out, "fer_serve_batch_requests", "Requests sharing one forward pass.", batch_requests_);
  histogram(out, "fer_serve_forward_seconds", "Time of one batched forward pass.", forward_);
  single(out, "fer_serve_in_flight", "gauge", "Requests being answered now.",
         std::to_string(in_flight.load()));
  single(out, "fer_serve_queued_faces", "gauge", "Faces waiting for a forward pass.",
         std::to_string(queued_faces.load()));
  single(out, "fer_serve_rejected_busy_total", "counter",
         "Requests refused with 503 at the concurrency cap.", std::to_string(rejected_busy.load()));
  single(out, "fer_serve_start_time_seconds", "gauge", "Unix time the server started.",
         number(started_));
  return out;
}

}  // namespace fer::serve
