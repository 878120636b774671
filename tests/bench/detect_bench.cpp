// Face detection quality on the labelled set the tests build (tests/predict/
// labelled_faces.hpp): recall, false positives and precision of the default detector
// at several --min-neighbors and of the strict one (a minimum level weight) at several
// thresholds, and the time per picture.
//   fer-bench-detect [pictures, default 200] [seed, default 7]
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "labelled_faces.hpp"

int main(int argc, char** argv) {
  const int pictures = argc > 1 ? std::atoi(argv[1]) : 200;
  const unsigned seed = argc > 2 ? static_cast<unsigned>(std::atoi(argv[2])) : 7u;
  const auto set = fer::test::labelled_face_set(pictures, seed);
  std::printf("labelled set: %d pictures 640x480 (seed %u)\n", pictures, seed);
  std::printf("%-8s %-14s %-10s %7s %7s %10s %10s %9s\n", "mode", "min-neighbors", "min-weight",
              "faces", "found", "false pos.", "precision", "ms/image");
  struct Mode {
    int neighbors;
    double weight;
  };
  for (const Mode mode :
       {Mode{3, 0}, Mode{5, 0}, Mode{8, 0}, Mode{5, 3.0}, Mode{5, fer::kStrictLevelWeight},
        Mode{5, 5.0}, Mode{3, fer::kStrictLevelWeight}}) {
    {
      fer::DetectorOptions options;
      options.min_neighbors = mode.neighbors;
      options.min_level_weight = mode.weight;
      fer::FaceDetector detector(options);
      const auto start = std::chrono::steady_clock::now();
      const fer::test::DetectionScore score = fer::test::score_detector(detector, set);
      const double ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
              .count() /
          pictures;
      std::printf("%-8s %-14d %-10.1f %7d %7d %10d %9.1f%% %9.2f\n",
                  mode.weight > 0 ? "strict" : "default", mode.neighbors, mode.weight, score.faces,
                  score.found, score.false_positives, 100 * score.precision(), ms);
    }
  }
  return 0;
}
