#include "synth/face_renderer.hpp"

#include <algorithm>
#include <cmath>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <vector>

#include "common/rng.hpp"
#include "data/emotions.hpp"

namespace fer {
namespace {

// Renders at 2x and shrinks with area averaging, which anti-aliases the strokes.
constexpr int kCanvas = 2 * kImageSide;

// Expression parameters; the per-emotion means below are jittered per face.
struct Expression {
  double mouth_curve;  // > 0: corners up (smile), < 0: corners down, in canvas px
  double mouth_width;  // half-width, px
  double mouth_open;   // gap between lips, px
  double mouth_skew;   // one corner raised (disgust), px
  double brow_height;  // raise above the rest position, px
  double brow_tilt;    // > 0: inner ends lowered (anger), < 0: inner ends raised (sadness)
  double eye_open;     // eye height factor
};

// Index = FER2013 id: Angry, Disgust, Fear, Happy, Sad, Surprise, Neutral.
constexpr Expression kExpressions[kNumEmotions] = {
    {-1.5, 10.0, 0.0, 0.0, -2.0, 5.0, 0.65},  // Angry: brows drawn down, tight mouth
    {-2.5, 9.0, 1.5, 4.5, -1.5, 2.5, 0.45},   // Disgust: squint, one lip corner raised
    {-1.0, 13.5, 4.0, 0.0, 4.0, -3.0, 1.45},  // Fear: wide eyes, stretched open mouth
    {6.5, 13.0, 2.5, 0.0, 0.5, 0.0, 0.75},    // Happy: smile
    {-5.5, 10.5, 0.0, 0.0, 1.0, -5.0, 0.65},  // Sad: frown, inner brows up
    {0.0, 6.0, 9.0, 0.0, 6.5, 0.0, 1.6},      // Surprise: round open mouth, brows high
    {0.0, 10.5, 0.0, 0.0, 0.0, 0.0, 1.0},     // Neutral
};

double jitter(SplitMix64& rng, double value, double spread) {
  return value + spread * rng.normal();
}

}  // namespace

void render_synthetic_face(std::uint8_t emotion, std::uint64_t seed, std::uint8_t* out) {
  SplitMix64 rng(seed * 0x2545F4914F6CDD1DULL + emotion + 1);
  const Expression& mean = kExpressions[emotion % kNumEmotions];
  Expression e{jitter(rng, mean.mouth_curve, 1.0),
               jitter(rng, mean.mouth_width, 1.2),
               std::max(0.0, jitter(rng, mean.mouth_open, 0.8)),
               jitter(rng, mean.mouth_skew, 0.8),
               jitter(rng, mean.brow_height, 0.9),
               jitter(rng, mean.brow_tilt, 0.9),
               std::max(0.2, jitter(rng, mean.eye_open, 0.12))};

  // Identity: face shape, skin and background tone, hair.
  const double background = rng.uniform(20, 230);
  const double skin = rng.uniform(95, 215);
  const double dark = std::max(0.0, skin - rng.uniform(70, 110));
  cv::Mat canvas(kCanvas, kCanvas, CV_32FC1, cv::Scalar(background));
  const cv::Point2d center(kCanvas / 2.0, kCanvas / 2.0 + 2);
  const double face_w = rng.uniform(29, 35), face_h = rng.uniform(37, 43);
  if (rng.uniform() < 0.6)  // hair
    cv::ellipse(canvas, center - cv::Point2d(0, 8), cv::Size2d(face_w + 3, face_h + 2), 0, 180, 360,
                cv::Scalar(rng.uniform(10, 90)), cv::FILLED, cv::LINE_AA);
  cv::ellipse(canvas, center, cv::Size2d(face_w, face_h), 0, 0, 360, cv::Scalar(skin), cv::FILLED,
              cv::LINE_AA);

  auto at = [&](double x, double y) {
    return cv::Point(cvRound((center.x + x) * 16), cvRound((center.y + y) * 16));
  };
  constexpr int kShift = 4;  // sub-pixel drawing: coordinates in 1/16 px
  const double eye_y = -8 + rng.uniform(-1.5, 1.5), eye_dx = rng.uniform(12, 15);

  // Eyes: white-ish sclera with a dark iris, height set by openness.
  for (int side : {-1, 1}) {
    const double x = side * eye_dx;
    const double half_h = 3.4 * e.eye_open;
    cv::ellipse(canvas, at(x, eye_y), cv::Size(cvRound(6.5 * 16), cvRound(half_h * 16)), 0, 0, 360,
                cv::Scalar(std::min(255.0, skin + 45)), cv::FILLED, cv::LINE_AA, kShift);
    cv::circle(canvas, at(x + rng.uniform(-1, 1), eye_y), cvRound(std::min(3.2, half_h) * 16),
               cv::Scalar(dark * 0.5), cv::FILLED, cv::LINE_AA, kShift);
  }
  // Brows: the inner end moves with the tilt, the whole brow with the height.
  const int brow_thickness = cvRound(rng.uniform(2.0, 3.5));
  for (int side : {-1, 1}) {
    const double base_y = eye_y - 8 - e.brow_height;
    const double inner_x = side * (eye_dx - 6), outer_x = side * (eye_dx + 7);
    cv::line(canvas, at(inner_x, base_y + e.brow_tilt * 0.5),
             at(outer_x, base_y - e.brow_tilt * 0.5), cv::Scalar(dark), brow_thickness, cv::LINE_AA,
             kShift);
  }
  // Nose.
  cv::line(canvas, at(0, eye_y + 5), at(rng.uniform(-1, 1), 9), cv::Scalar(skin - 35), 2,
           cv::LINE_AA, kShift);

  // Mouth: upper lip y(t) = y0 - curve t^2 + skew t, lower lip adds the opening.
  const double mouth_y = 19 + rng.uniform(-1.5, 1.5);
  std::vector<cv::Point> upper, lower;
  constexpr int kSteps = 16;
  for (int i = 0; i <= kSteps; ++i) {
    const double t = -1.0 + 2.0 * i / kSteps;
    const double x = t * std::max(3.0, e.mouth_width);
    const double y = mouth_y - e.mouth_curve * t * t + e.mouth_skew * t * 0.5;
    upper.push_back(at(x, y));
    lower.push_back(at(x, y + e.mouth_open * (1 - t * t)));
  }
  std::vector<cv::Point> outline(upper);
  outline.insert(outline.end(), lower.rbegin(), lower.rend());
  if (e.mouth_open > 0.8)
    cv::fillPoly(canvas, std::vector<std::vector<cv::Point>>{outline}, cv::Scalar(dark * 0.3),
                 cv::LINE_AA, kShift);
  cv::polylines(canvas, std::vector<std::vector<cv::Point>>{upper, lower}, false,
                cv::Scalar(dark * 0.6), 2, cv::LINE_AA, kShift);

  // Pose: rotation, scale and shift of the whole face.
  const double angle = rng.uniform(-12, 12), scale = rng.uniform(0.85, 1.1);
  cv::Mat pose = cv::getRotationMatrix2D(cv::Point2f(kCanvas / 2.f, kCanvas / 2.f), angle, scale);
  pose.at<double>(0, 2) += rng.uniform(-5, 5);
  pose.at<double>(1, 2) += rng.uniform(-5, 5);
  cv::Mat posed;
  cv::warpAffine(canvas, posed, pose, canvas.size(), cv::INTER_LINEAR, cv::BORDER_CONSTANT,
                 cv::Scalar(background));

  // Lighting: a linear gradient in a random direction, then contrast and noise.
  const double light_angle = rng.uniform(0, 2 * M_PI), light_strength = rng.uniform(0, 0.35);
  const double gain = rng.uniform(0.75, 1.2), noise_sigma = rng.uniform(2, 9);
  cv::Mat small;
  cv::resize(posed, small, cv::Size(kImageSide, kImageSide), 0, 0, cv::INTER_AREA);
  for (int y = 0; y < kImageSide; ++y)
    for (int x = 0; x < kImageSide; ++x) {
      const double u = (x - 23.5) / 24.0, v = (y - 23.5) / 24.0;
      const double light =
          1.0 + light_strength * (u * std::cos(light_angle) + v * std::sin(light_angle));
      const double value = small.at<float>(y, x) * light * gain + noise_sigma * rng.normal();
      out[y * kImageSide + x] = static_cast<std::uint8_t>(std::clamp(std::lround(value), 0L, 255L));
    }
}

}  // namespace fer
