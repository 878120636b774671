#pragma once
// A balanced fer-synth data set sharded as fer-shard would (for the LibTorch tests that
// train a model: the trainer, the classifier, the evaluation). Links fer_synth, fer_data.

#include <filesystem>

#include "data/fer_csv.hpp"
#include "data/shard_writer.hpp"
#include "synth/synthetic_dataset.hpp"

namespace fer::test {

// Writes `images` synthetic faces under dir/synth and their shards under dir/shards;
// returns the shard directory.
inline std::filesystem::path write_synth_shards(const std::filesystem::path& dir, int images) {
  SynthOptions synth;
  synth.images = images;
  synth.write_folder = false;
  synth.balanced = true;
  write_synthetic_dataset(dir / "synth", synth);
  IngestReport report(false);
  const Fer2013Csv csv = read_fer2013_csv(dir / "synth" / "fer2013.csv", {}, report);
  ShardWriteOptions options;
  options.dataset_name = "synth";
  options.images_per_shard = 200;
  write_shards(csv.images, dir / "shards", options);
  return dir / "shards";
}

}  // namespace fer::test
