#include <gtest/gtest.h>

#include "data/emotions.hpp"

namespace fer {
namespace {

TEST(Emotions, FolderNamesMapByNameNotSortOrder) {
  // Alphabetical order would give angry=0 disgust=1 fear=2 happy=3 neutral=4 sad=5
  // surprise=6; FER2013 ids put Sad=4, Surprise=5, Neutral=6.
  EXPECT_EQ(emotion_from_name("angry"), 0);
  EXPECT_EQ(emotion_from_name("disgust"), 1);
  EXPECT_EQ(emotion_from_name("fear"), 2);
  EXPECT_EQ(emotion_from_name("happy"), 3);
  EXPECT_EQ(emotion_from_name("sad"), 4);
  EXPECT_EQ(emotion_from_name("surprise"), 5);
  EXPECT_EQ(emotion_from_name("neutral"), 6);
}

TEST(Emotions, CommonVariantsAndCase) {
  EXPECT_EQ(emotion_from_name("disgusted"), 1);
  EXPECT_EQ(emotion_from_name("fearful"), 2);
  EXPECT_EQ(emotion_from_name("surprised"), 5);
  EXPECT_EQ(emotion_from_name("Happy"), 3);
  EXPECT_EQ(emotion_from_name(" NEUTRAL "), 6);
  EXPECT_EQ(emotion_from_name("anger"), 0);
  EXPECT_FALSE(emotion_from_name("contempt").has_value());
  EXPECT_FALSE(emotion_from_name("").has_value());
  EXPECT_NE(accepted_emotion_names().find("surprised"), std::string::npos);
}

TEST(Emotions, UsageToSplit) {
  EXPECT_EQ(split_from_usage("Training"), Split::kTrain);
  EXPECT_EQ(split_from_usage("PublicTest"), Split::kVal);
  EXPECT_EQ(split_from_usage(" PrivateTest\r"), Split::kTest);
  EXPECT_FALSE(split_from_usage("training").has_value());  // Usage values are exact
  EXPECT_FALSE(split_from_usage("Validation").has_value());
  EXPECT_EQ(split_name(Split::kVal), "val");
}

}  // namespace
}  // namespace fer
