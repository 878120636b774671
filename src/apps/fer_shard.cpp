// fer-shard: FER2013 (fer2013.csv, image folders, FERPlus votes) -> HDF5 shards.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <regex>

#include "common/command_line.hpp"
#include "common/tool_main.hpp"
#include "data/data_quality.hpp"
#include "data/image_stats.hpp"
#include "data/ingest.hpp"
#include "data/shard_reader.hpp"
#include "data/shard_writer.hpp"

namespace {

int inspect(const std::string& dir, bool verify) {
  const auto start = std::chrono::steady_clock::now();
  fer::ShardDataset dataset(dir, {verify});  // opens and checks every shard
  std::cout << dir << ": " << fer::manifest_summary(dataset.manifest());
  if (const std::string warning = fer::sharpness_warning(dataset.manifest()); !warning.empty())
    std::cout << "warning: " << warning << "\n";
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf(
      "all shards open and match the manifest%s (%.2f s)\n",
      verify ? "; SHA-256 verified" : " (sizes, shapes, label counts; --verify for SHA-256)",
      seconds);
  return fer::kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "fer-shard: turns FER2013 as downloaded into checksummed HDF5 shards.\n"
      "  fer-shard fer2013.csv                         Kaggle CSV (emotion,pixels,Usage)\n"
      "  fer-shard fer2013.csv --ferplus fer2013new.csv FERPlus majority + soft labels\n"
      "  fer-shard path/to/fer2013-folders              train/<class>/*.jpg, test/<class>/*.jpg\n"
      "  fer-shard --inspect shards/NAME [--verify]     summary and integrity check\n"
      "Output: shards/NAME/{train,val,test}-NNNNN-of-MMMMM.h5 + manifest.json (README: 'Shard "
      "format').\n"
      "Exit codes: 0 ok, 1 failure, 2 bad input or usage, 3 corrupt data."};
  fer::IngestRequest request;
  std::string input, format = "auto", ferplus, out, name, inspect_dir;
  fer::ShardWriteOptions write;
  bool verify = false, quiet = false, dedupe = false;
  app.add_option("input", input, "fer2013.csv, or the root of the image-folder edition");
  app.add_option("--format", format, "Input form (auto: a directory is the folder edition)")
      ->check(CLI::IsMember({"auto", "csv", "folder"}))
      ->capture_default_str();
  app.add_option("--ferplus", ferplus,
                 "FERPlus fer2013new.csv, joined by row order onto the CSV input");
  app.add_option("-o,--out", out, "Output directory (default: shards/NAME)");
  app.add_option("--name", name, "Data set name (default: the input's file or folder name)");
  app.add_option("--images-per-shard", write.images_per_shard, "Most images in one shard")
      ->capture_default_str();
  app.add_option("--seed", write.seed, "Seed for shard assignment and the val split")
      ->capture_default_str();
  app.add_option("--val-fraction", request.options.val_fraction,
                 "Share of train moved to val, for inputs without a validation split")
      ->capture_default_str();
  app.add_flag("--skip-invalid", request.options.skip_invalid,
               "Skip malformed rows and unreadable images (counted, first few reported) instead of "
               "stopping");
  app.add_flag("--dedupe", dedupe,
               "Drop from train the images also in val/test (leakage), the sets of identical "
               "images with conflicting labels, and blank images (val/test stay as they are)");
  app.add_flag("--overwrite", write.overwrite, "Replace an existing output directory (atomically)");
  app.add_option("--threads", request.options.threads, "Worker threads (0: all cores)")
      ->capture_default_str();
  app.add_option("--inspect", inspect_dir,
                 "Print the summary of an existing shard directory and check it");
  app.add_flag("--verify", verify, "With --inspect: also recompute every shard's SHA-256");
  app.add_flag("-q,--quiet", quiet, "Print only errors");
  if (const auto code = fer::cli::parse(app, argc, argv, "fer-shard")) return *code;

  return fer::run_tool("fer-shard", [&] {
    if (!inspect_dir.empty()) return inspect(inspect_dir, verify);
    if (input.empty()) throw fer::InputError("no input given (see --help)");
    request.input = input;
    request.format = *fer::input_format_from_name(format);
    if (!ferplus.empty()) request.ferplus = ferplus;
    request.options.seed = write.seed;
    if (name.empty())
      name = std::filesystem::path(input).lexically_normal().filename().stem().string();
    if (name.empty())
      name = std::filesystem::absolute(input).lexically_normal().parent_path().filename().string();
    if (!std::regex_match(name, std::regex("[A-Za-z0-9_][A-Za-z0-9._-]*")))
      throw fer::InputError("data set name '" + name +
                            "' must use letters, digits, '.', '_' or '-' (set --name)");
    write.dataset_name = name;
    const std::filesystem::path out_dir =
        out.empty() ? std::filesystem::path("shards") / name : std::filesystem::path(out);
    std::error_code ec;
    if (std::filesystem::exists(out_dir, ec) && !write.overwrite)  // before the slow part
      throw fer::InputError(out_dir.string() + ": already exists; pass --overwrite to replace it");

    const auto start = std::chrono::steady_clock::now();
    fer::IngestReport report(request.options.skip_invalid);
    fer::ImageSet images = fer::ingest(request, report);
    const nlohmann::json ingest_json = fer::report_to_json(report, images);  // as read
    const std::string ingest_text = fer::report_to_text(report, images);
    // The report describes the input as read; --dedupe then acts on it.
    fer::QualityReport quality = fer::assess_quality(images);
    if (dedupe) fer::drop_flagged_training_images(images, quality);
    const double read_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    write.created_by = {{"tool", "fer-shard"},
                        {"version", FER_VERSION},
                        {"command", fer::command_line(argc, argv)},
                        {"options",
                         {{"input", input},
                          {"format", format},
                          {"ferplus", ferplus},
                          {"images_per_shard", write.images_per_shard},
                          {"seed", write.seed},
                          {"val_fraction", request.options.val_fraction},
                          {"skip_invalid", request.options.skip_invalid},
                          {"dedupe", dedupe}}},
                        {"report", ingest_json},
                        {"quality", fer::quality_to_json(quality)}};
    const fer::Manifest manifest = fer::write_shards(images, out_dir, write);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (!quiet) {
      std::cout << ingest_text << fer::quality_to_text(quality) << fer::manifest_summary(manifest);
      if (const std::string warning = fer::sharpness_warning(manifest); !warning.empty())
        std::cerr << "fer-shard: warning: " << warning << "\n";
      std::printf("wrote %s in %.2f s (read %.2f s, write %.2f s)\n", out_dir.c_str(), seconds,
                  read_seconds, seconds - read_seconds);
    }
    return fer::kExitOk;
  });
}
