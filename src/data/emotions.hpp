#pragma once
// FER2013's label ids and split names, and the mapping from the names users' data
// carries (folder names, FERPlus columns, CSV Usage values) to them. Always by name:
// folder names sort alphabetically into a different order than the ids.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace fer {

inline constexpr int kNumEmotions = 7;
inline constexpr int kImageSide = 48;
inline constexpr int kImagePixels = kImageSide * kImageSide;  // 2,304

// Index = FER2013 `emotion` id.
inline constexpr std::array<std::string_view, kNumEmotions> kEmotionNames = {
    "Angry", "Disgust", "Fear", "Happy", "Sad", "Surprise", "Neutral"};

// Accepts the names used by the common editions, case-insensitively: angry/anger,
// disgust/disgusted, fear/fearful, happy/happiness, sad/sadness, surprise/surprised,
// neutral. Returns nullopt for anything else.
std::optional<std::uint8_t> emotion_from_name(std::string_view name);
// The accepted spellings, for error messages.
std::string accepted_emotion_names();

enum class Split : std::uint8_t { kTrain = 0, kVal = 1, kTest = 2 };
inline constexpr int kNumSplits = 3;
inline constexpr std::array<std::string_view, kNumSplits> kSplitNames = {"train", "val", "test"};

inline std::string_view split_name(Split split) {
  return kSplitNames[static_cast<int>(split)];
}
// "train" / "val" / "test" (and "validation").
std::optional<Split> split_from_name(std::string_view name);
// FER2013 Usage: Training -> train, PublicTest -> val, PrivateTest -> test.
std::optional<Split> split_from_usage(std::string_view usage);

}  // namespace fer
