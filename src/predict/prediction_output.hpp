#pragma once
// How fer-predict reports its results on standard output: a readable table (default),
// or JSON lines (--json) for programs: one object per face, per image without a face,
// and per input that failed. Every image is written as soon as its faces are
// classified (and the stream flushed), so a consumer reading a pipe sees results while
// a long directory or video is still being processed.

#include <iosfwd>
#include <nlohmann/json.hpp>
#include <string>

#include "predict/prediction.hpp"

namespace fer {

class PredictionWriter {
 public:
  virtual ~PredictionWriter() = default;
  virtual void write(const ImagePrediction& image) = 0;
};

// Columns: file (with frame and time for videos), face number, box, the top-k
// emotions with percentages; "no face found" and "failed: REASON" rows.
class TableWriter : public PredictionWriter {
 public:
  TableWriter(std::ostream& out, int top_k);
  void write(const ImagePrediction& image) override;

 private:
  std::ostream& out_;
  int top_k_;
  bool header_written_ = false;
};

class JsonLinesWriter : public PredictionWriter {
 public:
  JsonLinesWriter(std::ostream& out, int top_k);
  void write(const ImagePrediction& image) override;

 private:
  std::ostream& out_;
  int top_k_;
};

// The JSON records of one image: one per face ("status": "face"), or one with
// "status": "no_face" or "error". Fields: file, [frame, time], width, height, status,
// faces (count), and per face: face (0-based), box {x, y, width, height}, detected,
// emotion, probability, top [{emotion, probability}] (k entries), probabilities
// {Angry: p, ...} (all 7, summing to 1); error (the reason) for failures. File names
// that are not valid UTF-8 are written with U+FFFD in place of the bad bytes.
nlohmann::ordered_json prediction_records(const ImagePrediction& image, int top_k);
// One face's fields of those records (box, detected, emotion, probability, top,
// probabilities), in that order; fer-serve answers with the same.
nlohmann::ordered_json face_record(const FacePrediction& face, int top_k);

}  // namespace fer
