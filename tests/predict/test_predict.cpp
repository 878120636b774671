// fer-predict's library in one process: image headers and size limits, every kind of
// bad input file, directory and list walking, Haar detection of a drawn face, cropping,
// result records and table, and the whole image / video flow with a stand-in
// classifier (the real network runs in tests/e2e/predict.sh, which trains one).
#include <gtest/gtest.h>

#include <fstream>
#include <numeric>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>
#include <sstream>

#include "drawn_face.hpp"
#include "labelled_faces.hpp"
#include "predict/annotation.hpp"
#include "predict/image_header.hpp"
#include "predict/predict_run.hpp"
#include "test_support.hpp"

namespace fer {
namespace {
namespace fs = std::filesystem;
using test::TempDir;
using test::write_file;

std::vector<std::uint8_t> encode(const std::string& extension, const cv::Mat& image) {
  std::vector<std::uint8_t> bytes;
  EXPECT_TRUE(cv::imencode(extension, image, bytes));
  return bytes;
}

cv::Mat gradient_image(int width, int height) {
  cv::Mat image(height, width, CV_8UC3);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      image.at<cv::Vec3b>(y, x) = cv::Vec3b(static_cast<std::uint8_t>(x * 255 / width),
                                            static_cast<std::uint8_t>(y * 255 / height), 90);
  return image;
}

void write_bytes(const fs::path& path, const std::vector<std::uint8_t>& bytes, std::size_t count) {
  write_file(path, std::string(reinterpret_cast<const char*>(bytes.data()), count));
}

std::string load_error(const fs::path& path, const ImageLimits& limits = ImageLimits()) {
  try {
    load_image(path, limits);
  } catch (const ImageError& e) {
    return e.what();
  }
  return "";
}

// ---------------------------------------------------------------------------
// Headers: sizes read from the bytes OpenCV itself writes, before decoding.

TEST(ImageHeader, SizesOfEveryParsedFormat) {
  const cv::Mat image = gradient_image(37, 23);
  cv::Mat gray;
  cv::cvtColor(image, gray, cv::COLOR_BGR2GRAY);
  for (const char* extension : {".png", ".jpg", ".bmp", ".webp", ".ppm", ".pgm", ".sr"}) {
    SCOPED_TRACE(extension);
    const std::vector<std::uint8_t> bytes =
        encode(extension, std::string(extension) == ".pgm" ? gray : image);
    const auto header = read_image_header(bytes.data(), bytes.size());
    ASSERT_TRUE(header.has_value());
    ASSERT_TRUE(header->width && header->height);
    EXPECT_EQ(*header->width, 37);
    EXPECT_EQ(*header->height, 23);
    EXPECT_TRUE(header->complete);
  }
  const std::string gif = std::string("GIF89a\x25\x00\x17\x00", 10) + "...";
  const auto gif_header =
      read_image_header(reinterpret_cast<const std::uint8_t*>(gif.data()), gif.size());
  ASSERT_TRUE(gif_header && gif_header->width);
  EXPECT_EQ(*gif_header->width, 37);
  EXPECT_EQ(*gif_header->height, 23);
  std::vector<std::uint8_t> lossless;
  cv::imencode(".webp", image, lossless, {cv::IMWRITE_WEBP_QUALITY, 101});  // VP8L
  const auto header = read_image_header(lossless.data(), lossless.size());
  ASSERT_TRUE(header && header->width);
  EXPECT_EQ(*header->width, 37);
  EXPECT_EQ(*header->height, 23);
}

TEST(ImageHeader, TruncatedJpegHasNoEndMarkerAndTextIsNoImage) {
  const std::vector<std::uint8_t> jpeg = encode(".jpg", gradient_image(64, 64));
  const auto half = read_image_header(jpeg.data(), jpeg.size() / 2);
  ASSERT_TRUE(half.has_value());
  EXPECT_EQ(half->format, "JPEG");
  EXPECT_FALSE(half->complete);
  EXPECT_EQ(*half->width, 64);  // the frame header survives the cut
  const std::string text = "hello, this is not an image\n";
  EXPECT_FALSE(read_image_header(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
  EXPECT_FALSE(read_image_header(nullptr, 0));
}

// ---------------------------------------------------------------------------
// Loading: each way a file can be bad has its own one-line reason.

TEST(ImageLoading, DecodesGrayAndColour) {
  TempDir dir;
  cv::imwrite((dir / "a.png").string(), gradient_image(40, 30));
  const cv::Mat image = load_image(dir / "a.png", ImageLimits());
  EXPECT_EQ(image.type(), CV_8UC3);  // one decode path: BGR, gray derived from it
  EXPECT_EQ(image.size(), cv::Size(40, 30));
}

TEST(ImageLoading, EveryBadFileHasAReason) {
  TempDir dir;
  const std::vector<std::uint8_t> jpeg = encode(".jpg", gradient_image(64, 64));
  const std::vector<std::uint8_t> png = encode(".png", gradient_image(64, 64));
  write_bytes(dir / "truncated.jpg", jpeg, jpeg.size() / 2);
  write_bytes(dir / "truncated.png", png, png.size() / 2);
  write_file(dir / "text.jpg", "this is a text file with an image's name\n");
  write_file(dir / "empty.png", "");
  fs::create_directories(dir / "folder.png");

  EXPECT_EQ(load_error(dir / "missing.png"), "no such file");
  EXPECT_EQ(load_error(dir / "folder.png"), "is a directory");
  EXPECT_EQ(load_error(dir / "empty.png"), "empty file (0 bytes)");
  EXPECT_EQ(load_error(dir / "text.jpg"),
            "not an image (no OpenCV decoder recognises the contents)");
  EXPECT_EQ(load_error(dir / "truncated.jpg"),
            "truncated or damaged JPEG (no end-of-image marker after the image data)");
  EXPECT_EQ(load_error(dir / "truncated.png"),
            "truncated PNG (the data ends before the IEND chunk)");
  // Damaged inside (the image data scrambled, the structure intact): OpenCV refuses it.
  std::vector<std::uint8_t> scrambled = png;
  const std::size_t data = 8 + 25 + 8;  // after the signature and IHDR: IDAT's data
  for (std::size_t i = data; i < data + 20; ++i) scrambled[i] ^= 0x5A;
  write_bytes(dir / "scrambled.png", scrambled, scrambled.size());
  EXPECT_EQ(load_error(dir / "scrambled.png"),
            "corrupt or truncated PNG image (OpenCV could not decode it)");

  ImageLimits tiny_files;
  tiny_files.max_file_bytes = 100;
  EXPECT_NE(load_error(dir / "truncated.png", tiny_files).find("exceeds the limit of"),
            std::string::npos);
}

TEST(ImageLoading, AbsurdSizesAreRefusedFromTheHeader) {
  TempDir dir;
  std::vector<std::uint8_t> png = encode(".png", gradient_image(8, 8));
  // IHDR width and height (big-endian at 16 and 20): 30000 x 30000 claimed by an 8x8
  // file; refused before decoding, whatever the (now wrong) checksum says.
  const auto set_size = [&](std::uint32_t width, std::uint32_t height) {
    for (int i = 0; i < 4; ++i) {
      png[16 + i] = static_cast<std::uint8_t>(width >> (24 - 8 * i));
      png[20 + i] = static_cast<std::uint8_t>(height >> (24 - 8 * i));
    }
    write_bytes(dir / "claimed.png", png, png.size());
    return load_error(dir / "claimed.png");
  };
  EXPECT_EQ(set_size(30000, 30000),
            "30000x30000 PNG image exceeds the size limit (at most 20000 px a side and 100 "
            "megapixels)");
  EXPECT_EQ(set_size(15000, 15000).substr(0, 36), "15000x15000 PNG image exceeds the si");
  EXPECT_EQ(set_size(0, 10), "zero-sized PNG image (0x10)");
}

TEST(ImageLoading, LimitsAreInclusive) {
  const ImageLimits limits;
  EXPECT_NO_THROW(check_image_size(20000, 5000, limits, "image"));  // exactly 100 MP
  EXPECT_THROW(check_image_size(20001, 1, limits, "image"), ImageError);
  EXPECT_THROW(check_image_size(10001, 10000, limits, "image"), ImageError);
  EXPECT_THROW(check_image_size(640, 0, limits, "frame"), ImageError);
}

// ---------------------------------------------------------------------------
// Inputs: directories, lists, stdin.

TEST(InputWalk, DirectoriesAreWalkedSortedWithImageExtensionsOnly) {
  TempDir dir;
  for (const char* name : {"b.png", "a.JPG", "sub/c.webp", "sub/deeper/d.bmp", "notes.txt",
                           ".hidden.png", ".cache/e.png", "out/old.png"})
    write_file(dir / "photos" / name, "x");
  InputSources sources;
  sources.arguments = {(dir / "photos").string()};
  sources.exclude_directory = dir / "photos" / "out";
  std::istringstream no_stdin;
  const std::vector<InputImage> inputs = collect_inputs(sources, no_stdin);
  std::vector<std::string> relative;
  for (const InputImage& input : inputs) relative.push_back(input.relative.string());
  EXPECT_EQ(relative,
            (std::vector<std::string>{"a.JPG", "b.png", "sub/c.webp", "sub/deeper/d.bmp"}));
  EXPECT_EQ(inputs[0].path, dir / "photos" / "a.JPG");
}

TEST(InputWalk, ListsStdinAndUniqueAnnotationNames) {
  TempDir dir;
  write_file(dir / "list.txt", "# faces\n  one/x.png  \n\n" + (dir / "two/x.png").string() + "\n" +
                                   (dir / "three/x.png").string() + "\n");
  InputSources sources;
  sources.arguments = {"-", "missing.jpg"};
  sources.list_files = {(dir / "list.txt").string()};
  std::istringstream standard_input("from/stdin.png\n");
  const std::vector<InputImage> inputs = collect_inputs(sources, standard_input);
  ASSERT_EQ(inputs.size(), 5u);
  EXPECT_EQ(inputs[0].path, "from/stdin.png");
  EXPECT_EQ(inputs[0].relative, "from/stdin.png");
  EXPECT_EQ(inputs[1].path, "missing.jpg");  // kept: reported when loaded
  EXPECT_EQ(inputs[2].relative, "one/x.png");
  EXPECT_EQ(inputs[3].relative, "x.png");  // absolute: the file name only
  EXPECT_EQ(inputs[4].relative, "x-2.png");

  sources.list_files = {(dir / "no-such-list.txt").string()};
  EXPECT_THROW(collect_inputs(sources, standard_input), InputError);
}

// ---------------------------------------------------------------------------
// Detection and cropping.

bool contains(const cv::Rect& box, cv::Point point) {
  return box.contains(point);
}

TEST(FaceDetector, FindsDrawnFacesLeftToRight) {
  FaceDetector detector{DetectorOptions()};
  cv::Mat gray;
  cv::cvtColor(test::picture_with_faces(640, 480, {{160, 240}, {480, 240}}, 150), gray,
               cv::COLOR_BGR2GRAY);
  const std::vector<cv::Rect> boxes = detector.detect(gray);
  ASSERT_EQ(boxes.size(), 2u);
  EXPECT_TRUE(contains(boxes[0], {160, 240}));
  EXPECT_TRUE(contains(boxes[1], {480, 240}));
  EXPECT_GT(boxes[0].width, 80);
  EXPECT_LT(boxes[0].width, 220);
}

TEST(FaceDetector, NoFaceInAnEmptyPictureAndLargePhotosAreScannedSmaller) {
  FaceDetector detector{DetectorOptions()};
  cv::Mat gray;
  cv::cvtColor(test::picture_with_faces(640, 480, {}, 100), gray, cv::COLOR_BGR2GRAY);
  EXPECT_TRUE(detector.detect(gray).empty());

  // 4000x3000 with a 900 px face: scanned at 1280x960, box mapped back to full size.
  cv::cvtColor(test::picture_with_faces(4000, 3000, {{2600, 1400}}, 900), gray, cv::COLOR_BGR2GRAY);
  const std::vector<cv::Rect> boxes = detector.detect(gray);
  ASSERT_EQ(boxes.size(), 1u);
  EXPECT_TRUE(contains(boxes[0], {2600, 1400}));
  EXPECT_GT(boxes[0].width, 500);
}

TEST(FaceDetector, BadOptionsAndCascadesAreInputErrors) {
  DetectorOptions options;
  options.cascade = "/no/such/cascade.xml";
  EXPECT_THROW(FaceDetector{options}, InputError);
  TempDir dir;
  write_file(dir / "bad.xml", "<opencv_storage></opencv_storage>\n");
  options.cascade = dir / "bad.xml";
  EXPECT_THROW(FaceDetector{options}, InputError);
  options = DetectorOptions();
  options.scale_factor = 1.0;
  EXPECT_THROW(FaceDetector{options}, InputError);
}

// Strict detection on the labelled set (drawn faces among hair-over-skin heads, dark
// blobs on bright patches, stripes and shoulders): fewer false faces, nearly every face.
TEST(FaceDetector, StrictModeDropsFalseFacesAndKeepsTheFaces) {
  const auto set = fer::test::labelled_face_set(40, 7);
  fer::DetectorOptions options;
  fer::FaceDetector plain(options);
  options.min_level_weight = fer::kStrictLevelWeight;
  fer::FaceDetector strict(options);
  const auto before = fer::test::score_detector(plain, set);
  const auto after = fer::test::score_detector(strict, set);
  ASSERT_GT(before.false_positives, 0) << "the set must fool the plain cascade somewhere";
  EXPECT_LT(after.false_positives, before.false_positives);
  EXPECT_GE(after.found, before.found - 2) << "of " << before.faces << " faces";
  EXPECT_GE(before.recall(), 0.9);
}

TEST(FaceCrop, SquareWithMarginAndEdgesReplicated) {
  cv::Mat gray(100, 200, CV_8UC1);
  for (int x = 0; x < gray.cols; ++x) gray.col(x).setTo(x);
  // A 40x40 box at x 80..120, margin 0.25: the region is 60 wide, x 70..130.
  const cv::Mat face = crop_face(gray, cv::Rect(80, 30, 40, 40), 0.25, 48);
  EXPECT_EQ(face.size(), cv::Size(48, 48));
  EXPECT_TRUE(face.isContinuous());
  EXPECT_NEAR(face.at<std::uint8_t>(24, 0), 70, 1);
  EXPECT_NEAR(face.at<std::uint8_t>(24, 47), 129, 1);
  // Past the left edge: column 0 repeats.
  const cv::Mat corner = crop_face(gray, cv::Rect(0, 0, 30, 30), 0.5, 48);
  EXPECT_EQ(corner.size(), cv::Size(48, 48));
  EXPECT_EQ(corner.at<std::uint8_t>(10, 0), 0);
  EXPECT_EQ(whole_image_face(gray, 48).size(), cv::Size(48, 48));
}

// ---------------------------------------------------------------------------
// Records and table.

Probabilities distribution(int best) {
  Probabilities p;
  p.fill(0.05);
  p[static_cast<std::size_t>(best)] = 0.7;
  return p;
}

TEST(PredictionOutput, TopEmotionsAndJsonRecords) {
  Probabilities p = {0.1, 0.0, 0.2, 0.4, 0.1, 0.2, 0.0};
  EXPECT_EQ(top_emotions(p, 3), (std::vector<int>{3, 2, 5}));  // tie: lower id first
  EXPECT_EQ(top_emotions(p, 99).size(), 7u);

  ImagePrediction image;
  image.source = "photos/a.jpg";
  image.width = 640;
  image.height = 480;
  image.faces.push_back(FacePrediction{cv::Rect(10, 20, 100, 110), true, distribution(3)});
  image.faces.push_back(FacePrediction{cv::Rect(300, 20, 90, 90), true, distribution(0)});
  const nlohmann::ordered_json records = prediction_records(image, 2);
  ASSERT_EQ(records.size(), 2u);
  const nlohmann::json parsed = nlohmann::json::parse(records[0].dump());
  EXPECT_EQ(parsed["file"], "photos/a.jpg");
  EXPECT_EQ(parsed["status"], "face");
  EXPECT_EQ(parsed["faces"], 2);
  EXPECT_EQ(parsed["face"], 0);
  EXPECT_EQ(parsed["box"]["height"], 110);
  EXPECT_EQ(parsed["emotion"], "Happy");
  EXPECT_EQ(parsed["top"].size(), 2u);
  EXPECT_EQ(parsed["top"][0]["emotion"], "Happy");
  double sum = 0;
  for (const auto& [name, probability] : parsed["probabilities"].items())
    sum += probability.get<double>();
  EXPECT_EQ(parsed["probabilities"].size(), 7u);
  EXPECT_NEAR(sum, 1.0, 1e-9);
  EXPECT_FALSE(parsed.contains("frame"));
  EXPECT_EQ(records[1]["emotion"], "Angry");

  ImagePrediction failed;
  failed.source = "bad.jpg";
  failed.error = "no such file";
  failed.frame = 7;
  failed.time_seconds = 0.5;
  const nlohmann::ordered_json error = prediction_records(failed, 3)[0];
  EXPECT_EQ(error["status"], "error");
  EXPECT_EQ(error["error"], "no such file");
  EXPECT_EQ(error["frame"], 7);
  image.faces.clear();
  EXPECT_EQ(prediction_records(image, 3)[0]["status"], "no_face");
}

TEST(PredictionOutput, TableRows) {
  std::ostringstream out;
  TableWriter table(out, 2);
  ImagePrediction image;
  image.source = "a.png";
  image.faces.push_back(FacePrediction{cv::Rect(1, 2, 3, 4), true, distribution(5)});
  table.write(image);
  image.faces.clear();
  table.write(image);
  image.error = "no such file";
  table.write(image);
  const std::string text = out.str();
  EXPECT_NE(text.find("top 2"), std::string::npos);
  EXPECT_NE(text.find("1 2 3 4"), std::string::npos);
  EXPECT_NE(text.find("Surprise 70.0%"), std::string::npos);
  EXPECT_NE(text.find("no face found"), std::string::npos);
  EXPECT_NE(text.find("failed: no such file"), std::string::npos);
}

// ---------------------------------------------------------------------------
// The whole flow with a stand-in classifier whose answer depends on the crop, so each
// record can be traced to its face.

class FakeClassifier : public FaceClassifier {
 public:
  void classify(const std::vector<cv::Mat>& faces, std::vector<Probabilities>& out) override {
    calls.push_back(faces.size());
    out.clear();
    for (const cv::Mat& face : faces) {
      EXPECT_EQ(face.size(), cv::Size(kImageSide, kImageSide));
      EXPECT_EQ(face.type(), CV_8UC1);
      out.push_back(distribution(static_cast<int>(cv::mean(face)[0]) % kNumEmotions));
    }
  }
  std::vector<std::size_t> calls;
};

class Collector : public PredictionWriter {
 public:
  void write(const ImagePrediction& image) override { images.push_back(image); }
  std::vector<ImagePrediction> images;
};

struct Fixture {
  TempDir dir;
  FakeClassifier classifier;
  Collector collected;
  std::ostringstream errors;

  Fixture() {
    fs::create_directories(dir / "in");
    cv::imwrite((dir / "in/1-photo.png").string(),
                test::picture_with_faces(640, 480, {{200, 240}, {460, 240}}, 140));
    cv::imwrite((dir / "in/2-empty.jpg").string(), test::picture_with_faces(320, 240, {}, 80));
    const std::vector<std::uint8_t> jpeg = encode(".jpg", gradient_image(64, 64));
    write_bytes(dir / "in/3-corrupt.jpg", jpeg, jpeg.size() / 2);
    write_file(dir / "in/4-text.jpg", "not an image\n");
    cv::Mat face(48, 48, CV_8UC1, cv::Scalar(101));
    cv::imwrite((dir / "in/5-face48.png").string(), face);
  }

  std::vector<InputImage> inputs() {
    InputSources sources;
    sources.arguments = {(dir / "in").string()};
    std::istringstream no_stdin;
    return collect_inputs(sources, no_stdin);
  }

  PredictSummary run(PredictOptions options) {
    FacePredictor predictor(classifier, options, collected, errors);
    predictor.predict_images(inputs());
    return predictor.summary();
  }
};

TEST(FacePredictor, FindsFacesReportsBadFilesAndKeepsOrder) {
  Fixture f;
  PredictOptions options;
  options.batch_size = 2;
  const PredictSummary summary = f.run(options);
  ASSERT_EQ(f.collected.images.size(), 5u);
  const auto& images = f.collected.images;
  EXPECT_EQ(images[0].faces.size(), 2u);
  EXPECT_TRUE(images[0].faces[0].detected);
  EXPECT_LT(images[0].faces[0].box.x, images[0].faces[1].box.x);
  for (const FacePrediction& face : images[0].faces)
    EXPECT_NEAR(std::accumulate(face.probabilities.begin(), face.probabilities.end(), 0.0), 1.0,
                1e-9);
  EXPECT_TRUE(images[1].faces.empty());
  EXPECT_FALSE(images[1].failed());
  EXPECT_EQ(images[2].error,
            "truncated or damaged JPEG (no end-of-image marker after the image data)");
  EXPECT_EQ(images[3].error, "not an image (no OpenCV decoder recognises the contents)");
  EXPECT_TRUE(images[4].faces.empty());  // a flat 48x48 patch is no face to the cascade
  EXPECT_EQ(summary.images, 5u);
  EXPECT_EQ(summary.frames, 0u);
  EXPECT_EQ(summary.faces, 2u);
  EXPECT_EQ(summary.without_face, 2u);
  EXPECT_EQ(summary.failed, 2u);
  const std::string errors = f.errors.str();
  EXPECT_NE(errors.find("fer-predict: error: " + (f.dir / "in/3-corrupt.jpg").string() +
                        ": truncated or damaged JPEG"),
            std::string::npos);
  EXPECT_NE(errors.find("4-text.jpg: not an image"), std::string::npos);
}

TEST(FacePredictor, NoDetectAndFallbackClassifyWholeImages) {
  Fixture f;
  PredictOptions options;
  options.detect = false;
  f.run(options);
  const auto& images = f.collected.images;
  ASSERT_EQ(images.size(), 5u);
  ASSERT_EQ(images[4].faces.size(), 1u);
  EXPECT_FALSE(images[4].faces[0].detected);
  EXPECT_EQ(images[4].faces[0].box, cv::Rect(0, 0, 48, 48));
  EXPECT_EQ(top_emotions(images[4].faces[0].probabilities, 1)[0], 101 % kNumEmotions);
  EXPECT_EQ(images[0].faces.size(), 1u);  // the photo as one face, too

  Fixture g;
  options.detect = true;
  options.fallback_whole = true;
  const PredictSummary summary = g.run(options);
  EXPECT_EQ(g.collected.images[0].faces.size(), 2u);  // faces found: no fallback
  ASSERT_EQ(g.collected.images[1].faces.size(), 1u);
  EXPECT_FALSE(g.collected.images[1].faces[0].detected);
  EXPECT_EQ(summary.without_face, 0u);
}

TEST(FacePredictor, AnnotatedCopiesUnderRelativeNames) {
  Fixture f;
  PredictOptions options;
  options.annotate_dir = f.dir / "annotated";
  f.run(options);
  const cv::Mat copy = cv::imread((f.dir / "annotated/1-photo.png").string());
  EXPECT_EQ(copy.size(), cv::Size(640, 480));
  const cv::Mat original = cv::imread((f.dir / "in/1-photo.png").string());
  EXPECT_GT(cv::norm(copy, original, cv::NORM_L1), 0);  // boxes drawn
  EXPECT_TRUE(fs::exists(f.dir / "annotated/2-empty.jpg"));
  EXPECT_FALSE(fs::exists(f.dir / "annotated/3-corrupt.jpg"));  // failed: no copy
  for (const auto& entry : fs::directory_iterator(f.dir / "annotated"))
    EXPECT_NE(entry.path().filename().string()[0], '.') << "temporary left: " << entry.path();
}

TEST(FacePredictor, AnnotatingDoesNotChangeWhatIsPredicted) {
  // A colour JPEG: libjpeg's grayscale decoding and BGR -> gray round differently, so
  // two decode paths gave two answers for the same face.
  Fixture f;
  cv::Mat photo = test::picture_with_faces(640, 480, {{200, 240}, {460, 240}}, 140);
  if (photo.channels() == 1) cv::cvtColor(photo, photo, cv::COLOR_GRAY2BGR);
  photo += cv::Scalar(40, -25, 10);  // a tint: the channels differ
  fs::remove_all(f.dir / "in");
  fs::create_directories(f.dir / "in");
  cv::imwrite((f.dir / "in/colour.jpg").string(), photo, {cv::IMWRITE_JPEG_QUALITY, 85});
  PredictOptions plain;
  f.run(plain);
  Fixture g;
  fs::remove_all(g.dir / "in");
  fs::create_directories(g.dir / "in");
  fs::copy_file(f.dir / "in/colour.jpg", g.dir / "in/colour.jpg");
  PredictOptions annotated;
  annotated.annotate_dir = g.dir / "annotated";
  g.run(annotated);
  ASSERT_EQ(f.collected.images.size(), 1u);
  ASSERT_EQ(g.collected.images.size(), 1u);
  const auto& a = f.collected.images[0].faces;
  const auto& b = g.collected.images[0].faces;
  ASSERT_FALSE(a.empty());
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].box, b[i].box) << "face " << i;
    EXPECT_EQ(a[i].probabilities, b[i].probabilities) << "face " << i;
  }
}

fs::path write_video(const fs::path& path, int frames, double fps) {
  cv::VideoWriter writer(path.string(), cv::VideoWriter::fourcc('M', 'J', 'P', 'G'), fps,
                         cv::Size(320, 240));
  EXPECT_TRUE(writer.isOpened());
  for (int i = 0; i < frames; ++i)
    writer.write(test::picture_with_faces(320, 240, {{120 + 8 * i, 120}}, 100));
  return path;
}

TEST(FacePredictor, VideoReportsEverySampledFrameAndWritesAnAnnotatedVideo) {
  TempDir dir;
  const fs::path video = write_video(dir / "clip.avi", 10, 5);
  FakeClassifier classifier;
  Collector collected;
  std::ostringstream errors;
  PredictOptions options;
  options.every = 3;
  options.annotate_dir = dir / "out";
  FacePredictor predictor(classifier, options, collected, errors);
  predictor.predict_video(video);
  EXPECT_EQ(errors.str(), "");
  ASSERT_EQ(collected.images.size(), 4u);  // frames 0, 3, 6, 9
  for (std::size_t i = 0; i < 4; ++i) {
    const ImagePrediction& frame = collected.images[i];
    EXPECT_EQ(frame.frame, static_cast<std::int64_t>(3 * i));
    EXPECT_NEAR(frame.time_seconds, 0.6 * static_cast<double>(i), 1e-6);
    EXPECT_EQ(frame.faces.size(), 1u);
  }
  cv::VideoCapture annotated((dir / "out/clip.avi").string());
  ASSERT_TRUE(annotated.isOpened());
  EXPECT_EQ(annotated.get(cv::CAP_PROP_FRAME_COUNT), 10);
  for (const auto& entry : fs::directory_iterator(dir / "out"))
    EXPECT_EQ(entry.path().filename(), "clip.avi");

  predictor.predict_video(dir / "missing.mp4");
  write_file(dir / "text.avi", "not a video");
  predictor.predict_video(dir / "text.avi");
  EXPECT_EQ(predictor.summary().failed, 2u);
  EXPECT_EQ(predictor.summary().videos, 3u);
  EXPECT_EQ(predictor.summary().frames, 4u);
  EXPECT_EQ(predictor.summary().images, 0u);
  EXPECT_EQ(describe(predictor.summary()),
            "0 images, 3 videos (4 sampled frames), 4 faces, 0 without a face, 2 failed");
  EXPECT_EQ(collected.images[4].error, "no such file");
  EXPECT_TRUE(collected.images[5].failed());
}

}  // namespace
}  // namespace fer
