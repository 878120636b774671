#pragma once
// A cartoon frontal face drawn with OpenCV primitives (hair, skin oval, eyes with
// pupils, brows, nose line, mouth) that OpenCV's Haar frontal-face cascade detects at
// sizes from 60 to 320 px. The tests and benchmarks need photos with faces in them,
// and this machine has no face photographs; this needs no data set.

#include <opencv2/core.hpp>
#include <vector>

namespace fer::test {

// Draws a face of width about 0.7 * side, centred at `centre`, on a BGR image, and
// softens it with a blur proportional to its size (hard cartoon edges are less
// face-like to the cascade). `smile` in -1..1 bends the mouth.
void draw_face(cv::Mat& bgr, cv::Point centre, int side, double smile = 0.5);

// A width x height BGR picture with a textured background and faces of `side` px at
// `centres` (blurred once, after all are drawn).
cv::Mat picture_with_faces(int width, int height, const std::vector<cv::Point>& centres, int side);

}  // namespace fer::test
