#include "labelled_faces.hpp"

#include <algorithm>
#include <opencv2/imgproc.hpp>

#include "drawn_face.hpp"

namespace fer::test {
namespace {

double iou(const cv::Rect& a, const cv::Rect& b) {
  const double inter = (a & b).area();
  return inter / (a.area() + b.area() - inter);
}

void clutter(cv::Mat& bgr, cv::RNG& rng) {
  const int w = bgr.cols, h = bgr.rows;
  // Textured noise over a gradient.
  cv::Mat noise(h, w, CV_8UC3);
  rng.fill(noise, cv::RNG::NORMAL, cv::Scalar::all(0), cv::Scalar::all(18));
  bgr += noise;
  for (int i = 0, n = rng.uniform(6, 14); i < n; ++i) {
    const cv::Point c(rng.uniform(0, w), rng.uniform(0, h));
    const int side = rng.uniform(40, 200);
    switch (rng.uniform(0, 4)) {
      case 0: {  // a head without a face: hair over a skin oval (seen from behind, in profile)
        cv::ellipse(bgr, c + cv::Point(0, -side / 8), cv::Size(side * 2 / 5, side * 2 / 5), 0, 180,
                    360, cv::Scalar(40, 40, 60), -1);
        cv::ellipse(bgr, c, cv::Size(side / 3, side * 9 / 20), 0, 0, 360, cv::Scalar(150, 175, 215),
                    -1);
        cv::ellipse(bgr, c + cv::Point(0, -side / 10), cv::Size(side / 3, side / 4), 0, 180, 360,
                    cv::Scalar(45, 45, 65), -1);
        break;
      }
      case 1: {  // dark blobs over a bright patch (the cascade's eyes-over-cheeks contrast)
        cv::rectangle(bgr, cv::Rect(c.x - side / 2, c.y - side / 2, side, side),
                      cv::Scalar::all(rng.uniform(150, 230)), -1);
        for (int k = 0; k < 3; ++k)
          cv::circle(
              bgr,
              c + cv::Point(rng.uniform(-side / 3, side / 3), rng.uniform(-side / 3, side / 6)),
              std::max(3, side / rng.uniform(6, 12)), cv::Scalar::all(rng.uniform(10, 80)), -1);
        break;
      }
      case 2: {  // stripes (clothing, railings)
        const int step = std::max(4, side / 8);
        for (int x = -side / 2; x < side / 2; x += step)
          cv::line(bgr, c + cv::Point(x, -side / 2), c + cv::Point(x + side / 4, side / 2),
                   cv::Scalar::all(rng.uniform(0, 255)), std::max(2, step / 2));
        break;
      }
      default:  // shoulders: a wide dark shape with a bright top edge
        cv::ellipse(bgr, c, cv::Size(side, side / 2), 0, 180, 360,
                    cv::Scalar::all(rng.uniform(20, 90)), -1);
        cv::ellipse(bgr, c, cv::Size(side, side / 2), 0, 180, 360,
                    cv::Scalar::all(rng.uniform(160, 240)), 3);
    }
  }
}

}  // namespace

std::vector<LabelledPicture> labelled_face_set(int pictures, unsigned seed) {
  cv::RNG rng(seed);
  std::vector<LabelledPicture> set;
  const int w = 640, h = 480;
  for (int i = 0; i < pictures; ++i) {
    LabelledPicture picture;
    picture.bgr =
        cv::Mat(h, w, CV_8UC3,
                cv::Scalar(rng.uniform(60, 200), rng.uniform(60, 200), rng.uniform(60, 200)));
    for (int y = 0; y < h; ++y) picture.bgr.row(y) += cv::Scalar(0, y * 30 / h, 0);
    clutter(picture.bgr, rng);
    const int faces = rng.uniform(0, 4);
    std::vector<cv::Rect> taken;
    for (int f = 0; f < faces; ++f) {
      const int side = rng.uniform(90, 200);
      const cv::Point centre(rng.uniform(side / 2, w - side / 2),
                             rng.uniform(side / 2, h - side / 2));
      const cv::Rect box(centre.x - side * 2 / 5, centre.y - side * 9 / 20, side * 4 / 5,
                         side * 19 / 20);
      if (std::any_of(taken.begin(), taken.end(),
                      [&](const cv::Rect& t) { return (t & box).area() > 0; }))
        continue;
      draw_face(picture.bgr, centre, side, rng.uniform(-1.0, 1.0));
      taken.push_back(box);
    }
    cv::GaussianBlur(picture.bgr, picture.bgr, cv::Size(0, 0), 1.0);
    picture.faces = taken;
    set.push_back(std::move(picture));
  }
  return set;
}

DetectionScore score_detector(FaceDetector& detector, const std::vector<LabelledPicture>& set) {
  DetectionScore score;
  for (const LabelledPicture& picture : set) {
    cv::Mat gray;
    cv::cvtColor(picture.bgr, gray, cv::COLOR_BGR2GRAY);
    const std::vector<cv::Rect> boxes = detector.detect(gray);
    score.faces += static_cast<int>(picture.faces.size());
    std::vector<bool> matched(picture.faces.size(), false);
    for (const cv::Rect& box : boxes) {
      bool hit = false;
      for (std::size_t f = 0; f < picture.faces.size(); ++f)
        if (!matched[f] && iou(box, picture.faces[f]) >= 0.3) {
          matched[f] = hit = true;
          break;
        }
      if (!hit) ++score.false_positives;
    }
    score.found += static_cast<int>(std::count(matched.begin(), matched.end(), true));
  }
  return score;
}

}  // namespace fer::test
