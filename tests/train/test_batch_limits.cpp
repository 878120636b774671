#include <gtest/gtest.h>

#include "common/error.hpp"
#include "train/batch_limits.hpp"

namespace fer {
namespace {

TEST(BatchLimits, ABatchLargerThanEachRanksShareIsRefusedWithTheNumbers) {
  TrainConfig config;
  config.data.batch_size = 1'000'000'000;
  try {
    check_train_batch(config, 28709, 2, 2, 48, 0);
    FAIL() << "a batch of 10^9 was accepted";
  } catch (const InputError& e) {
    EXPECT_STREQ(e.what(),
                 "data.batch_size = 1000000000 is larger than the training images of each rank "
                 "(28709 / 2 ranks = 14354): choose at most 14354");
  }
  config.data.batch_size = 14354;
  EXPECT_NO_THROW(check_train_batch(config, 28709, 2, 2, 48, 0));
  config.data.limit_train_images = 100;  // the limit is what each epoch has
  EXPECT_THROW(check_train_batch(config, 28709, 2, 2, 48, 0), InputError);
}

TEST(BatchLimits, ActivationsBeyondAvailableMemoryAreRefused) {
  TrainConfig config;  // 32/64/128 channels, 2 convs per stage
  const std::uint64_t per_image = activation_bytes_per_image(config.model, 48);
  EXPECT_GT(per_image, 1'000'000u);  // ~2.3 MB: 48x48x32 floats x 3 tensors x 2 convs x 2 alone
  EXPECT_LT(per_image, 20'000'000u);
  config.data.batch_size = 10000;
  EXPECT_NO_THROW(check_train_batch(config, 28709, 1, 1, 48, 0));  // memory unknown: not checked
  try {
    check_train_batch(config, 28709, 1, 1, 48, 4ull << 30);
    FAIL() << "a batch needing more than 4 GiB was accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("GiB are available"), std::string::npos) << e.what();
  }
  config.data.batch_size = 64;
  EXPECT_NO_THROW(check_train_batch(config, 28709, 1, 1, 48, 4ull << 30));
}

TEST(BatchLimits, TheEvaluationBatchIsAtMostARanksShare) {
  TrainConfig config;
  config.data.eval_batch_size = 1'000'000;
  EXPECT_EQ(eval_batch_for(config, 3589, 2), 1795u);
  config.data.eval_batch_size = 256;
  EXPECT_EQ(eval_batch_for(config, 3589, 2), 256u);
  config.data.limit_val_images = 10;
  config.data.eval_batch_size = 1'000'000;
  EXPECT_EQ(eval_batch_for(config, 3589, 1), 10u);
}

}  // namespace
}  // namespace fer
