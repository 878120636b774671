#pragma once
// Which directory entries are images, for every tool that walks folders (fer-shard's
// image-folder edition, fer-predict's directories): one rule, so the same folder means
// the same images to both.

#include <filesystem>

namespace fer {

// The extensions OpenCV's image codecs read (.jpg, .png, .bmp, .webp, .tif, .pgm, ...),
// case-insensitive.
bool has_image_extension(const std::filesystem::path& path);

// Hidden entries, skipped by every walk: names starting with '.' (.DS_Store, ._a.jpg)
// and with "__" (__MACOSX from zip archives, __pycache__).
bool is_hidden_entry(const std::filesystem::path& path);

}  // namespace fer
