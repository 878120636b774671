// fer-eval's scoring of a split (one process here; tests/e2e/eval.sh runs 2 ranks):
// the counts are those of the classifier's own predictions, image by image, the report
// names what it measured, and a tencrop request on a model without crops is refused.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "common/error.hpp"
#include "data/shard_reader.hpp"
#include "dist/process_group.hpp"
#include "evaluation/split_evaluation.hpp"
#include "pipeline/augment.hpp"
#include "tiny_run.hpp"

namespace fer {
namespace {
using test::TinyRun;

ClassifierOptions on_cpu() {
  return test::cpu_classifier_options();
}

// What evaluate_split must find, computed here one image at a time.
struct Expected {
  ConfusionMatrix matrix{kNumEmotions};
  double loss_sum = 0;
  std::int64_t top2 = 0;
};

Expected score_one_by_one(const EmotionClassifier& classifier, SplitReader& split,
                          const AugmentConfig& views) {
  Expected expected;
  const int view_count = eval_view_count(views);
  std::vector<std::uint8_t> pixels(kImagePixels);
  std::vector<float> images(static_cast<std::size_t>(view_count) * kImagePixels);
  float logits[kNumEmotions];
  for (std::size_t i = 0; i < split.size(); ++i) {
    split.read_range(i, 1, pixels.data());
    eval_views(pixels.data(), views, images.data());
    classifier.logits(images.data(), 1, view_count, logits);
    const int truth = split.labels()[i];
    expected.matrix.add(truth, static_cast<int>(std::max_element(logits, logits + 7) - logits));
    double denominator = 0;
    for (float z : logits) denominator += std::exp(static_cast<double>(z) - logits[truth]);
    expected.loss_sum += std::log(denominator);
    int higher = 0;
    for (float z : logits) higher += z > logits[truth] ? 1 : 0;
    expected.top2 += higher < 2 ? 1 : 0;
  }
  return expected;
}

TEST(SplitEvaluation, CountsAreThoseOfTheClassifiersOwnPredictionsImageByImage) {
  const EmotionClassifier classifier(TinyRun::get().run_dir() / "best.pt", on_cpu());
  ProcessGroup group(nullptr, nullptr);  // a world of one
  for (const EvalTta tta : {EvalTta::kNone, EvalTta::kFlip}) {
    EvaluationOptions options;
    options.shards = TinyRun::get().shards();
    options.split = Split::kVal;
    options.tta = tta;
    options.batch_size = 37;  // batches that do not divide the split
    const EvaluationReport report = evaluate_split(classifier, options, group);

    ShardDataset dataset(options.shards);
    SplitReader& val = dataset.split(Split::kVal);
    AugmentConfig views = classifier.config().augment;
    views.eval_tta = tta;
    const Expected expected = score_one_by_one(classifier, val, views);
    ASSERT_GT(val.size(), 0u);
    EXPECT_EQ(report.images, static_cast<std::int64_t>(val.size()));
    EXPECT_EQ(report.matrix.counts(), expected.matrix.counts()) << name_of(tta);
    EXPECT_EQ(report.top2_correct, expected.top2) << name_of(tta);
    EXPECT_NEAR(report.loss_sum, expected.loss_sum, 1e-3 * std::max(1.0, expected.loss_sum));
    EXPECT_EQ(report.tta, name_of(tta));
    EXPECT_EQ(report.split, "val");

    const nlohmann::json json = report.to_json();
    EXPECT_EQ(json["tta"], std::string(name_of(tta)));
    EXPECT_DOUBLE_EQ(json["accuracy"].get<double>(), expected.matrix.accuracy());
    std::int64_t support = 0;
    for (const auto& entry : json["classes"]) support += entry["support"].get<std::int64_t>();
    EXPECT_EQ(support, report.images);
  }
}

TEST(SplitEvaluation, TencropOnAModelTrainedWithoutCropsIsRefused) {
  const EmotionClassifier classifier(TinyRun::get().run_dir() / "best.pt", on_cpu());
  ASSERT_EQ(classifier.config().augment.crop_size, 0);
  ProcessGroup group(nullptr, nullptr);
  EvaluationOptions options;
  options.shards = TinyRun::get().shards();
  options.tta = EvalTta::kTencrop;
  try {
    evaluate_split(classifier, options, group);
    FAIL() << "tencrop was accepted for a model trained on whole images";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("augment.crop_size > 0"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace fer
