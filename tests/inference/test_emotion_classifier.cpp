// The classifier a checkpoint becomes (fer-eval, fer-predict, fer-serve): logits averaged
// over an image's views, the inference kernels against LibTorch's layers, the one device
// rule, checkpoints verified against their run, and what --checkpoint names.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <vector>

#include "common/error.hpp"
#include "data/shard_reader.hpp"
#include "inference/emotion_classifier.hpp"
#include "pipeline/augment.hpp"
#include "tiny_run.hpp"

namespace fer {
namespace {
namespace fs = std::filesystem;
using test::TinyRun;

ClassifierOptions on_cpu() {
  return test::cpu_classifier_options();
}

// The first `count` validation images of the run's shards, as their eval views.
std::vector<float> first_val_views(const EmotionClassifier& classifier, const AugmentConfig& views,
                                   std::size_t count) {
  ShardDataset dataset(classifier.config().data.shards);
  SplitReader& val = dataset.split(Split::kVal);
  EXPECT_GE(val.size(), count);
  std::vector<std::uint8_t> pixels(count * kImagePixels);
  val.read_range(0, count, pixels.data());
  const std::size_t per_image = static_cast<std::size_t>(eval_view_count(views)) * kImagePixels;
  std::vector<float> out(count * per_image);
  for (std::size_t i = 0; i < count; ++i)
    eval_views(pixels.data() + i * kImagePixels, views, out.data() + i * per_image);
  return out;
}

TEST(EmotionClassifier, TheLogitsOfAnImageAreTheMeanOverItsViews) {
  const EmotionClassifier classifier(TinyRun::get().run_dir() / "best.pt", on_cpu());
  EXPECT_EQ(classifier.input_side(), 48);
  EXPECT_EQ(classifier.config().augment.eval_tta, EvalTta::kFlip);  // read back from the file
  AugmentConfig flip = classifier.config().augment;
  ASSERT_EQ(eval_view_count(flip), 2);
  const int count = 6;
  const std::vector<float> views = first_val_views(classifier, flip, count);
  std::vector<float> averaged(count * kNumEmotions), each(2 * count * kNumEmotions);
  classifier.logits(views.data(), count, 2, averaged.data());
  classifier.logits(views.data(), 2 * count, 1, each.data());  // every view on its own
  bool mirror_differs = false;
  for (int i = 0; i < count; ++i) {
    for (int c = 0; c < kNumEmotions; ++c) {
      const float image = each[(2 * i) * kNumEmotions + c];
      const float mirror = each[(2 * i + 1) * kNumEmotions + c];
      EXPECT_NEAR(averaged[i * kNumEmotions + c], 0.5f * (image + mirror), 1e-5f)
          << "image " << i << " class " << c;
      mirror_differs = mirror_differs || std::abs(image - mirror) > 1e-4f;
    }
  }
  EXPECT_TRUE(mirror_differs) << "the two views were the same image";
}

TEST(EmotionClassifier, InferenceKernelsGiveLibTorchsLogits) {
  ClassifierOptions reference = on_cpu();
  reference.inference_kernels = false;
  const fs::path best = TinyRun::get().run_dir() / "best.pt";
  const EmotionClassifier fast(best, on_cpu()), slow(best, reference);
  AugmentConfig single = fast.config().augment;
  single.eval_tta = EvalTta::kNone;
  const int count = 16;
  const std::vector<float> views = first_val_views(fast, single, count);
  std::vector<float> a(count * kNumEmotions), b(count * kNumEmotions);
  fast.logits(views.data(), count, 1, a.data());
  slow.logits(views.data(), count, 1, b.data());
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-5f) << i;
}

TEST(EmotionClassifier, CudaWithoutAGpuIsRefusedNamingTheOption) {
  const fs::path best = TinyRun::get().run_dir() / "best.pt";
  ClassifierOptions automatic = on_cpu();
  automatic.device = DeviceChoice::kAuto;
  if (torch::cuda::is_available()) GTEST_SKIP() << "a CUDA device is visible";
  EXPECT_EQ(EmotionClassifier(best, automatic).device(), "cpu");
  ClassifierOptions cuda = on_cpu();
  cuda.device = DeviceChoice::kCuda;
  try {
    const EmotionClassifier classifier(best, cuda);
    FAIL() << "--device cuda was accepted without a GPU";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("--device cuda, but this LibTorch has no usable CUDA"),
              std::string::npos)
        << e.what();
  }
}

TEST(EmotionClassifier, ACheckpointChangedInsideItsRunIsRefusedAndACopyOutsideItLoads) {
  const TinyRun& run = TinyRun::get();
  const fs::path damaged_run = run.scratch() / "damaged-run";
  fs::remove_all(damaged_run);
  fs::copy(run.run_dir(), damaged_run,
           fs::copy_options::recursive | fs::copy_options::copy_symlinks);
  const fs::path file = damaged_run / "epoch-0002.pt";
  const auto middle = static_cast<std::streamoff>(fs::file_size(file) / 2);
  {
    std::fstream bytes(file, std::ios::in | std::ios::out | std::ios::binary);
    char byte = 0;
    bytes.seekg(middle);
    bytes.read(&byte, 1);
    byte = static_cast<char>(byte ^ 0x40);
    bytes.seekp(middle);
    bytes.write(&byte, 1);
  }
  try {
    const EmotionClassifier classifier(file, on_cpu());
    FAIL() << "a damaged checkpoint was loaded";
  } catch (const CorruptDataError& e) {
    EXPECT_NE(std::string(e.what()).find("epoch-0002.pt"), std::string::npos) << e.what();
  }
  const fs::path loose = run.scratch() / "loose-copy.pt";
  fs::copy_file(run.run_dir() / "epoch-0002.pt", loose, fs::copy_options::overwrite_existing);
  EXPECT_NO_THROW(EmotionClassifier(loose, on_cpu()));  // no run manifest lists it
}

TEST(EmotionClassifier, CheckpointSpecsNameARunsPointersOrAFile) {
  const TinyRun& run = TinyRun::get();
  const auto resolved = [&](const std::string& spec) {
    return fs::canonical(resolve_model_checkpoint(spec, run.checkpoints_dir()));
  };
  EXPECT_EQ(resolved("best"), fs::canonical(run.run_dir() / "best.pt"));
  EXPECT_EQ(resolved("latest"), fs::canonical(run.run_dir() / "latest.pt"));
  EXPECT_EQ(resolved("tiny-run"), fs::canonical(run.run_dir() / "best.pt"));
  EXPECT_EQ(resolved(run.run_dir().string()), fs::canonical(run.run_dir() / "best.pt"));
  EXPECT_EQ(resolved((run.run_dir() / "epoch-0001.pt").string()),
            fs::canonical(run.run_dir() / "epoch-0001.pt"));
  try {
    resolve_model_checkpoint("no-such-run", run.checkpoints_dir());
    FAIL() << "an unknown run name resolved";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("no-such-run"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace fer
