// fer-test-predict-fixtures: writes the pictures and videos the fer-predict end-to-end
// test and benchmark need (faces drawn with OpenCV, see drawn_face.hpp).
//   photo FILE [--width W --height H --side S --faces N]   N faces side by side
//   face FILE [--side S]                                   one face filling a S x S image (48)
//   video FILE [--frames N --fps F --width W --height H]   MJPG .avi, a face drifting right
#include <CLI/CLI.hpp>
#include <fstream>
#include <iostream>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include "drawn_face.hpp"

namespace {

std::vector<cv::Point> row_of_faces(int width, int height, int count) {
  std::vector<cv::Point> centres;
  for (int i = 0; i < count; ++i)
    centres.emplace_back(width * (2 * i + 1) / (2 * count), height / 2);
  return centres;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Writes drawn-face pictures and videos for the fer-predict tests."};
  app.require_subcommand(1);
  std::string file;
  int width = 640, height = 480, side = 160, face_side = 48, faces = 1, frames = 12;
  double fps = 10;
  auto* photo = app.add_subcommand("photo", "A picture with faces in it");
  photo->add_option("file", file)->required();
  photo->add_option("--width", width);
  photo->add_option("--height", height);
  photo->add_option("--side", side);
  photo->add_option("--faces", faces);
  auto* face = app.add_subcommand("face", "One face filling a square image (FER-style)");
  face->add_option("file", file)->required();
  face->add_option("--side", face_side);
  auto* video = app.add_subcommand("video", "An MJPG .avi with a face in every frame");
  video->add_option("file", file)->required();
  video->add_option("--frames", frames);
  video->add_option("--fps", fps);
  video->add_option("--width", width);
  video->add_option("--height", height);
  auto* y4m = app.add_subcommand(
      "y4m", "A YUV4MPEG2 video (Chromium's fake webcam input) with a face in every frame");
  y4m->add_option("file", file)->required();
  y4m->add_option("--frames", frames);
  y4m->add_option("--width", width);
  y4m->add_option("--height", height);
  CLI11_PARSE(app, argc, argv);

  if (*y4m) {
    // 4:2:0 needs even sides; Chromium loops the file, so a few frames are plenty.
    width &= ~1;
    height &= ~1;
    std::ofstream out(file, std::ios::binary);
    out << "YUV4MPEG2 W" << width << " H" << height << " F10:1 Ip A1:1 C420jpeg\n";
    for (int i = 0; i < frames; ++i) {
      const cv::Point centre(width / 2 + (i % 4) * 4, height / 2);
      cv::Mat yuv;
      cv::cvtColor(fer::test::picture_with_faces(width, height, {centre}, height / 2), yuv,
                   cv::COLOR_BGR2YUV_I420);
      out << "FRAME\n";
      out.write(reinterpret_cast<const char*>(yuv.data),
                static_cast<std::streamsize>(yuv.total() * yuv.elemSize()));
    }
    return out ? 0 : 1;
  }

  if (*photo) {
    const cv::Mat picture =
        fer::test::picture_with_faces(width, height, row_of_faces(width, height, faces), side);
    return cv::imwrite(file, picture) ? 0 : 1;
  }
  if (*face) {
    // Drawn large and shrunk, as FER2013's faces were: the face fills the frame.
    const int canvas = 240;
    const cv::Mat picture = fer::test::picture_with_faces(
        canvas, canvas, {cv::Point(canvas / 2, canvas / 2 + 10)}, canvas * 5 / 4);
    cv::Mat gray, small;
    cv::cvtColor(picture, gray, cv::COLOR_BGR2GRAY);
    cv::resize(gray, small, cv::Size(face_side, face_side), 0, 0, cv::INTER_AREA);
    return cv::imwrite(file, small) ? 0 : 1;
  }
  cv::VideoWriter writer(file, cv::VideoWriter::fourcc('M', 'J', 'P', 'G'), fps,
                         cv::Size(width, height));
  if (!writer.isOpened()) {
    std::cerr << "cannot write " << file << "\n";
    return 1;
  }
  for (int i = 0; i < frames; ++i) {
    const cv::Point centre(width / 3 + i * width / (3 * std::max(1, frames)), height / 2);
    writer.write(fer::test::picture_with_faces(width, height, {centre}, height / 3));
  }
  writer.release();
  return 0;
}
