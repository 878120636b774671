#pragma once
// The face-finding options fer-predict and fer-serve share (one set of flags, one help
// text): the cascade file, its pyramid step and neighbours, strict mode and its level
// weight, the smallest face, the scan size, and the crop margin.

#include <CLI/CLI.hpp>
#include <string>

#include "common/command_line.hpp"
#include "predict/face_finder.hpp"

namespace fer::cli {

// `cascade` receives --cascade (copy it into options.detector.cascade after parsing).
inline void add_face_finding_options(CLI::App& app, FaceFinderOptions& options,
                                     std::string& cascade) {
  const DetectorOptions defaults;
  DetectorOptions& detector = options.detector;
  app.add_option("--cascade", cascade, "Haar cascade XML (default: opencv-data's frontal face)");
  app.add_option("--scale-factor", detector.scale_factor,
                 "Cascade pyramid step, > 1 (default 1.1; larger: faster, may miss faces)");
  app.add_option("--min-neighbors", detector.min_neighbors,
                 "Cascade hits a face needs (default 5; larger: fewer false faces)")
      ->check(at_least(0));
  app.add_flag_callback(
      "--strict", [&detector] { detector.min_level_weight = kStrictLevelWeight; },
      "Strict face detection: keep only boxes the cascade is confident of (level weight >= 4; "
      "fewer false faces over hair, clothing and crowds, a few faint faces lost)");
  app.add_option("--min-weight", detector.min_level_weight,
                 "The level weight a face needs (--strict sets 4; 0: off, the default)")
      ->check(at_least(0));
  app.add_option(
         "--min-face", detector.min_face_size,
         "Smallest face side in pixels (default " + std::to_string(defaults.min_face_size) + ")")
      ->check(above(0));
  app.add_option("--detect-side", detector.max_detect_side,
                 "Scan larger images for faces at this longer side, crop from the full image "
                 "(default " +
                     std::to_string(defaults.max_detect_side) + "; 0: full size)")
      ->check(at_least(0));
  app.add_option("--margin", options.margin,
                 "Crop margin around each face box, a fraction of its side (default 0.1)")
      ->check(between(0, 2));
}

}  // namespace fer::cli
