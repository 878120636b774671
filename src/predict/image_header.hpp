#pragma once
// What an image file says about itself before it is decoded: its format, width and
// height (PNG, JPEG, BMP, GIF, WebP, PNM, Sun raster) and, for JPEG and PNG, whether
// the data reaches the end-of-image marker. fer-predict reads this first so that an absurdly large
// image is refused without allocating its pixels, and a truncated JPEG (which
// libjpeg decodes into a grey-padded picture with only a warning) is reported as
// damaged instead of being classified.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace fer {

struct ImageHeader {
  std::string format;  // "PNG", "JPEG", "BMP", "GIF", "WebP", "PNM", "TIFF", ...
  // Dimensions when the format's header was parsed; nullopt for formats recognised by
  // signature only (TIFF, JPEG 2000, OpenEXR, Radiance HDR, Sun raster, PFM).
  std::optional<std::int64_t> width, height;
  // False when the file ends early: a JPEG without an end-of-image marker after its
  // scan data, a PNG without its IEND chunk, or a header cut short.
  bool complete = true;
};

// Looks at the first bytes of a file (the whole file for JPEG completeness).
// nullopt: no known image signature.
std::optional<ImageHeader> read_image_header(const std::uint8_t* data, std::size_t size);

}  // namespace fer
