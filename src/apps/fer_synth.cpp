// fer-synth: writes a synthetic FER2013-format data set (CSV and/or image folders).
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>

#include "common/command_line.hpp"
#include "common/text.hpp"
#include "common/tool_main.hpp"
#include "synth/synthetic_dataset.hpp"

int main(int argc, char** argv) {
  CLI::App app{
      "fer-synth: procedural FER-like 48x48 faces for the 7 FER2013 emotions, written as\n"
      "OUT/fer2013.csv (Kaggle form), OUT/images/{train,test}/<class>/<Usage>_<n>.png\n"
      "(image-folder edition) and, with --ferplus, OUT/fer2013new.csv (FERPlus votes)."};
  fer::SynthOptions options;
  std::string out = "data/synth";
  std::string format = "both";
  app.add_option("-o,--out", out, "Output directory (replaced atomically)")->capture_default_str();
  app.add_option("-n,--images", options.images, "Number of images")
      ->check(fer::cli::between(1, 10'000'000))
      ->capture_default_str();
  app.add_option("--seed", options.seed, "Random seed (same seed, same bytes)")
      ->capture_default_str();
  app.add_option("--format", format, "What to write")
      ->check(CLI::IsMember({"csv", "folder", "both"}))
      ->capture_default_str();
  app.add_flag("--ferplus", options.write_ferplus,
               "Also write FERPlus-style votes (fer2013new.csv)");
  app.add_option("--image-ext", options.image_extension,
                 "Image file type of the folder edition (.png, .jpg)")
      ->check(CLI::IsMember({".png", ".jpg", ".bmp"}))
      ->capture_default_str();
  app.add_option("--val-fraction", options.val_fraction, "Share of PublicTest (val) images")
      ->capture_default_str();
  app.add_option("--test-fraction", options.test_fraction, "Share of PrivateTest (test) images")
      ->capture_default_str();
  app.add_flag("--balanced", options.balanced,
               "Equal class counts (default: FER2013's proportions)");
  app.add_option("--threads", options.threads, "Worker threads (0: all cores)")
      ->check(fer::cli::between(0, 4096))
      ->capture_default_str();
  app.add_flag("--overwrite", options.overwrite, "Replace an existing output directory");
  if (const auto code = fer::cli::parse(app, argc, argv, "fer-synth")) return *code;
  options.write_csv = format != "folder";
  options.write_folder = format != "csv";

  return fer::run_tool("fer-synth", [&] {
    const auto start = std::chrono::steady_clock::now();
    const fer::SynthSummary summary = fer::write_synthetic_dataset(out, options);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("fer-synth: wrote %s images to %s in %.2f s\n",
                fer::with_thousands(static_cast<long long>(options.images)).c_str(), out.c_str(),
                seconds);
    for (int s = 0; s < fer::kNumSplits; ++s) {
      std::printf("  %-5s", std::string(fer::kSplitNames[s]).c_str());
      for (int c = 0; c < fer::kNumEmotions; ++c)
        std::printf(" %s=%zu", std::string(fer::kEmotionNames[c]).c_str(), summary.counts[s][c]);
      std::printf("\n");
    }
    return fer::kExitOk;
  });
}
