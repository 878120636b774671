#include "synth/synthetic_dataset.hpp"

#include <cmath>
#include <fstream>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <vector>

#include "common/atomic_output.hpp"
#include "common/error.hpp"
#include "common/parallel.hpp"
#include "common/rng.hpp"
#include "common/text.hpp"
#include "synth/face_renderer.hpp"

namespace fer {
namespace fs = std::filesystem;
namespace {

// FER2013 training-set class counts (Angry..Neutral): Disgust is 1.5%.
constexpr std::array<double, kNumEmotions> kFer2013Proportions = {3995, 436,  4097, 7215,
                                                                  4830, 3171, 4965};
// Folder names of the Kaggle image-folder edition (lower case).
constexpr std::array<const char*, kNumEmotions> kFolderNames = {
    "angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"};
constexpr std::array<const char*, kNumSplits> kUsage = {"Training", "PublicTest", "PrivateTest"};

// Exact per-class counts summing to `total` (largest remainder).
std::array<std::size_t, kNumEmotions> class_counts(std::size_t total, bool balanced) {
  std::array<double, kNumEmotions> weights{};
  double sum = 0;
  for (int c = 0; c < kNumEmotions; ++c)
    sum += weights[c] = balanced ? 1.0 : kFer2013Proportions[c];
  std::array<std::size_t, kNumEmotions> counts{};
  std::array<double, kNumEmotions> remainders{};
  std::size_t assigned = 0;
  for (int c = 0; c < kNumEmotions; ++c) {
    const double exact = static_cast<double>(total) * weights[c] / sum;
    counts[c] = static_cast<std::size_t>(exact);
    remainders[c] = exact - static_cast<double>(counts[c]);
    assigned += counts[c];
  }
  while (assigned < total) {
    int best = 0;
    for (int c = 1; c < kNumEmotions; ++c)
      if (remainders[c] > remainders[best]) best = c;
    ++counts[best];
    remainders[best] = -1;
    ++assigned;
  }
  return counts;
}

// Ten annotators' votes for a face of class `emotion`: mostly a clear majority,
// sometimes ambiguous (no majority) or outside FER2013's classes, as in FERPlus.
std::array<int, 10> synthetic_votes(std::uint8_t emotion, SplitMix64& rng) {
  static constexpr int kColumnOfEmotion[kNumEmotions] = {4, 5, 6, 1, 3, 2, 0};
  std::array<int, 10> votes{};
  const double draw = rng.uniform();
  if (draw < 0.04) {  // ambiguous: 4/3/3 between three classes
    votes[kColumnOfEmotion[emotion]] = 4;
    votes[kColumnOfEmotion[(emotion + 1) % kNumEmotions]] = 3;
    votes[kColumnOfEmotion[(emotion + 3) % kNumEmotions]] = 3;
  } else if (draw < 0.07) {  // contempt, unknown or not a face
    votes[7 + rng.below(3)] = 7;
    votes[kColumnOfEmotion[emotion]] = 3;
  } else {
    const int majority = 6 + static_cast<int>(rng.below(5));
    votes[kColumnOfEmotion[emotion]] = majority;
    for (int left = 10 - majority; left > 0; --left) ++votes[rng.below(9)];
  }
  return votes;
}

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  if (!out) throw std::runtime_error(path.string() + ": write failed");
}

}  // namespace

SynthSummary write_synthetic_dataset(const fs::path& out_dir, const SynthOptions& options) {
  if (options.images < kNumEmotions)
    throw InputError("--images must be at least " + std::to_string(kNumEmotions));
  if (options.val_fraction < 0 || options.test_fraction < 0 ||
      options.val_fraction + options.test_fraction >= 1)
    throw InputError("--val-fraction and --test-fraction must be >= 0 and sum to less than 1");
  if (!options.write_csv && !options.write_folder)
    throw InputError("nothing to write: choose csv and/or folder");
  if (options.write_ferplus && !options.write_csv)
    throw InputError("--ferplus needs the CSV output");
  std::error_code ec;
  if (fs::exists(out_dir, ec) && !options.overwrite)
    throw InputError(out_dir.string() + ": already exists; pass --overwrite to replace it");

  // Labels with exact class counts in seeded order; splits by position.
  const auto counts = class_counts(options.images, options.balanced);
  std::vector<std::uint8_t> labels;
  for (int c = 0; c < kNumEmotions; ++c)
    labels.insert(labels.end(), counts[c], static_cast<std::uint8_t>(c));
  SplitMix64 rng(options.seed);
  deterministic_shuffle(labels, rng);
  const std::size_t n = labels.size();
  const auto n_val =
      static_cast<std::size_t>(std::llround(options.val_fraction * static_cast<double>(n)));
  const auto n_test =
      static_cast<std::size_t>(std::llround(options.test_fraction * static_cast<double>(n)));
  const std::size_t n_train = n - n_val - n_test;
  auto split_of = [&](std::size_t i) {
    return i < n_train ? Split::kTrain : i < n_train + n_val ? Split::kVal : Split::kTest;
  };

  std::vector<std::uint8_t> pixels(n * kImagePixels);
  const unsigned threads = options.threads ? options.threads : default_thread_count();
  parallel_for(n, threads, [&](std::size_t begin, std::size_t end) {
    cv::setNumThreads(1);
    for (std::size_t i = begin; i < end; ++i)
      render_synthetic_face(labels[i], options.seed * 1000003ULL + i,
                            pixels.data() + i * kImagePixels);
  });

  StagedDirectory staging(out_dir);
  SynthSummary summary;
  for (std::size_t i = 0; i < n; ++i) ++summary.counts[static_cast<int>(split_of(i))][labels[i]];

  if (options.write_csv) {
    std::string csv = "emotion,pixels,Usage\n";
    csv.reserve(n * kImagePixels * 4 + 64);
    char number[4];
    for (std::size_t i = 0; i < n; ++i) {
      csv += static_cast<char>('0' + labels[i]);
      csv += ',';
      const std::uint8_t* image = pixels.data() + i * kImagePixels;
      for (int p = 0; p < kImagePixels; ++p) {
        if (p) csv += ' ';
        int v = image[p], len = 0;
        do number[len++] = static_cast<char>('0' + v % 10);
        while ((v /= 10) > 0);
        while (len) csv += number[--len];
      }
      csv += ',';
      csv += kUsage[static_cast<int>(split_of(i))];
      csv += '\n';
    }
    write_text(staging.path() / "fer2013.csv", csv);
  }
  if (options.write_ferplus) {
    std::string csv =
        "Usage,Image "
        "name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF\n";
    SplitMix64 vote_rng(options.seed ^ 0xFE2ULL);
    char name[32];
    for (std::size_t i = 0; i < n; ++i) {
      std::snprintf(name, sizeof name, "fer%07zu.png", i);
      csv += std::string(kUsage[static_cast<int>(split_of(i))]) + "," + name;
      for (int v : synthetic_votes(labels[i], vote_rng)) csv += "," + std::to_string(v);
      csv += '\n';
    }
    write_text(staging.path() / "fer2013new.csv", csv);
  }
  if (options.write_folder) {
    for (const char* split_dir : {"train", "test"})
      for (const char* class_dir : kFolderNames)
        fs::create_directories(staging.path() / "images" / split_dir / class_dir);
    parallel_for(n, threads, [&](std::size_t begin, std::size_t end) {
      std::vector<unsigned char> encoded;
      for (std::size_t i = begin; i < end; ++i) {
        const Split split = split_of(i);
        const fs::path path = staging.path() / "images" /
                              (split == Split::kTrain ? "train" : "test") /
                              kFolderNames[labels[i]] /
                              (std::string(kUsage[static_cast<int>(split)]) + "_" +
                               std::to_string(i) + options.image_extension);
        cv::Mat image(kImageSide, kImageSide, CV_8UC1, pixels.data() + i * kImagePixels);
        if (!cv::imencode(options.image_extension, image, encoded))
          throw InputError("cannot encode images as '" + options.image_extension + "'");
        write_text(path, std::string(encoded.begin(), encoded.end()));
      }
    });
  }
  staging.commit();
  return summary;
}

}  // namespace fer
