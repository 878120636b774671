#include "drawn_face.hpp"

#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>

namespace fer::test {

void draw_face(cv::Mat& bgr, cv::Point centre, int side, double smile) {
  const auto at = [&](double x, double y) {
    return cv::Point(centre.x + static_cast<int>(x * side), centre.y + static_cast<int>(y * side));
  };
  const auto size = [&](double w, double h) {
    return cv::Size(static_cast<int>(w * side), static_cast<int>(h * side));
  };
  const auto width = [&](double fraction, int least) {
    return std::max(least, static_cast<int>(fraction * side));
  };
  cv::ellipse(bgr, at(0, -0.12), size(0.40, 0.42), 0, 180, 360, cv::Scalar(40, 40, 60), -1);
  cv::ellipse(bgr, at(0, 0.02), size(0.34, 0.46), 0, 0, 360, cv::Scalar(150, 175, 215), -1);
  for (int eye : {-1, 1}) {
    cv::ellipse(bgr, at(eye * 0.14, -0.06), size(0.085, 0.04), 0, 0, 360, cv::Scalar(235, 235, 235),
                -1);
    cv::circle(bgr, at(eye * 0.14, -0.06), width(0.035, 1), cv::Scalar(30, 30, 30), -1);
    cv::line(bgr, at(eye * 0.22, -0.15), at(eye * 0.06, -0.14), cv::Scalar(40, 40, 50),
             width(0.03, 2));
  }
  cv::line(bgr, at(0, -0.04), at(-0.03, 0.12), cv::Scalar(110, 130, 170), width(0.015, 1));
  const double bend = 0.05 + 0.02 * smile;
  cv::ellipse(bgr, at(0, 0.22 - (smile < 0 ? bend : 0)), size(0.12, std::abs(bend)), 0,
              smile < 0 ? 180 : 0, smile < 0 ? 360 : 180, cv::Scalar(60, 60, 140), width(0.025, 2));
}

cv::Mat picture_with_faces(int width, int height, const std::vector<cv::Point>& centres, int side) {
  cv::Mat bgr(height, width, CV_8UC3, cv::Scalar(120, 140, 130));
  // A gentle gradient, so the background is not a flat colour.
  for (int y = 0; y < height; ++y) bgr.row(y) += cv::Scalar(y * 40 / std::max(1, height), 0, 0);
  for (const cv::Point& centre : centres) draw_face(bgr, centre, side);
  cv::GaussianBlur(bgr, bgr, cv::Size(0, 0), std::max(0.5, side / 100.0));
  return bgr;
}

}  // namespace fer::test
