#include "predict/image_header.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>

namespace fer {
namespace {

class Bytes {
 public:
  Bytes(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
  std::size_t size() const { return size_; }
  bool has(std::size_t offset, std::size_t count) const {
    return offset <= size_ && count <= size_ - offset;
  }
  bool starts_with(std::size_t offset, const char* text) const {
    const std::size_t length = std::strlen(text);
    return has(offset, length) && std::memcmp(data_ + offset, text, length) == 0;
  }
  std::uint8_t at(std::size_t offset) const { return data_[offset]; }
  std::uint32_t be16(std::size_t offset) const {
    return static_cast<std::uint32_t>(data_[offset] << 8 | data_[offset + 1]);
  }
  std::uint32_t be32(std::size_t offset) const { return be16(offset) << 16 | be16(offset + 2); }
  std::uint32_t le16(std::size_t offset) const {
    return static_cast<std::uint32_t>(data_[offset] | data_[offset + 1] << 8);
  }
  std::uint32_t le24(std::size_t offset) const {
    return le16(offset) | static_cast<std::uint32_t>(data_[offset + 2]) << 16;
  }
  std::uint32_t le32(std::size_t offset) const { return le16(offset) | le16(offset + 2) << 16; }
  // Offset of the first `first second` byte pair at or after `from`, or size().
  std::size_t find_pair(std::size_t from, std::uint8_t first, std::uint8_t second) const {
    for (std::size_t i = from; i + 1 < size_; ++i)
      if (data_[i] == first && data_[i + 1] == second) return i;
    return size_;
  }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
};

ImageHeader with_size(const char* format, std::int64_t width, std::int64_t height) {
  ImageHeader header;
  header.format = format;
  header.width = width;
  header.height = height;
  return header;
}

ImageHeader truncated(const char* format) {
  ImageHeader header;
  header.format = format;
  header.complete = false;
  return header;
}

// Signature (8), then chunks of length (4), type (4), data, CRC (4); the first is IHDR
// (width, height big-endian), the last IEND. Walking the chunk headers finds a file cut
// short before libpng does (which would print its own complaint on stderr).
ImageHeader png(const Bytes& bytes) {
  if (!bytes.has(16, 8) || !bytes.starts_with(12, "IHDR")) return truncated("PNG");
  ImageHeader header = with_size("PNG", bytes.be32(16), bytes.be32(20));
  std::size_t pos = 8;
  for (;;) {
    if (!bytes.has(pos, 8)) break;
    const std::size_t length = bytes.be32(pos);
    if (bytes.starts_with(pos + 4, "IEND")) return header;
    if (!bytes.has(pos + 8, length) || !bytes.has(pos + 8 + length, 4)) break;
    pos += 12 + length;
  }
  header.complete = false;
  return header;
}

bool is_start_of_frame(std::uint8_t marker) {
  // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC), which share the range.
  return marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
}

// Walks the marker segments up to the first scan (SOS): the frame header gives the
// size. Inside the entropy-coded data every 0xFF byte is followed by 0x00 or a restart
// marker, so the first FF D9 after the scan starts is the end-of-image marker; a file
// without one was cut short. (An EXIF thumbnail's own FF D9 sits in an APP1 segment
// before the scan and is skipped with it.)
ImageHeader jpeg(const Bytes& bytes) {
  ImageHeader header;
  header.format = "JPEG";
  std::size_t pos = 2;
  while (bytes.has(pos, 1)) {
    if (bytes.at(pos) != 0xFF) break;  // not at a marker: damaged segment structure
    while (bytes.has(pos, 1) && bytes.at(pos) == 0xFF) ++pos;  // fill bytes
    if (!bytes.has(pos, 1)) break;
    const std::uint8_t marker = bytes.at(pos++);
    const bool standalone = marker == 0x01 || marker == 0xD8 || (marker >= 0xD0 && marker <= 0xD7);
    if (standalone) continue;
    if (marker == 0xD9) break;  // end of image before any scan: no picture
    if (!bytes.has(pos, 2)) break;
    const std::size_t length = bytes.be16(pos);
    if (length < 2) break;
    if (is_start_of_frame(marker)) {
      if (!bytes.has(pos, 7)) break;
      // A zero height is legal: a DNL segment after the first scan gives it.
      const std::uint32_t height = bytes.be16(pos + 3);
      if (height != 0) header.height = height;
      header.width = bytes.be16(pos + 5);
    }
    if (marker == 0xDA) {
      header.complete = bytes.find_pair(pos + length, 0xFF, 0xD9) < bytes.size();
      return header;
    }
    pos += length;
  }
  header.complete = false;
  return header;
}

ImageHeader bmp(const Bytes& bytes) {
  if (!bytes.has(14, 4)) return truncated("BMP");
  const std::uint32_t info_size = bytes.le32(14);
  if (info_size == 12) {  // OS/2 BITMAPCOREHEADER: 16-bit sizes
    if (!bytes.has(18, 4)) return truncated("BMP");
    return with_size("BMP", bytes.le16(18), bytes.le16(20));
  }
  if (!bytes.has(18, 8)) return truncated("BMP");
  // Signed: a negative height means rows stored top-down.
  const auto width = static_cast<std::int32_t>(bytes.le32(18));
  const auto height = static_cast<std::int32_t>(bytes.le32(22));
  return with_size("BMP", std::abs(static_cast<std::int64_t>(width)),
                   std::abs(static_cast<std::int64_t>(height)));
}

ImageHeader gif(const Bytes& bytes) {
  if (!bytes.has(6, 4)) return truncated("GIF");
  return with_size("GIF", bytes.le16(6), bytes.le16(8));
}

ImageHeader webp(const Bytes& bytes) {
  if (bytes.starts_with(12, "VP8 ") && bytes.has(26, 4))  // lossy: 14-bit sizes
    return with_size("WebP", bytes.le16(26) & 0x3FFF, bytes.le16(28) & 0x3FFF);
  if (bytes.starts_with(12, "VP8L") && bytes.has(21, 4)) {  // lossless: 14-bit sizes - 1
    const std::uint32_t bits = bytes.le32(21);
    return with_size("WebP", (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1);
  }
  if (bytes.starts_with(12, "VP8X") && bytes.has(24, 6))  // extended: 24-bit canvas sizes - 1
    return with_size("WebP", bytes.le24(24) + 1, bytes.le24(27) + 1);
  return truncated("WebP");
}

// Netpbm (P1..P6) and PFM (PF, Pf): ASCII width and height after the magic number,
// separated by whitespace and '#' comments.
ImageHeader netpbm(const Bytes& bytes, const char* format) {
  std::size_t pos = 2;
  std::int64_t sizes[2] = {0, 0};
  for (std::int64_t& value : sizes) {
    while (bytes.has(pos, 1)) {
      if (bytes.at(pos) == '#') {
        while (bytes.has(pos, 1) && bytes.at(pos) != '\n') ++pos;
      } else if (std::isspace(bytes.at(pos))) {
        ++pos;
      } else {
        break;
      }
    }
    int digits = 0;
    while (bytes.has(pos, 1) && std::isdigit(bytes.at(pos))) {
      if (++digits > 12) return with_size(format, INT64_MAX, INT64_MAX);  // absurd either way
      value = value * 10 + (bytes.at(pos++) - '0');
    }
    if (digits == 0) return truncated(format);
  }
  return with_size(format, sizes[0], sizes[1]);
}

ImageHeader signature_only(const char* format) {
  ImageHeader header;
  header.format = format;
  return header;
}

}  // namespace

std::optional<ImageHeader> read_image_header(const std::uint8_t* data, std::size_t size) {
  const Bytes bytes(data, size);
  if (bytes.starts_with(0, "\x89PNG\r\n\x1a\n")) return png(bytes);
  if (bytes.has(0, 3) && bytes.at(0) == 0xFF && bytes.at(1) == 0xD8 && bytes.at(2) == 0xFF)
    return jpeg(bytes);
  if (bytes.starts_with(0, "BM")) return bmp(bytes);
  if (bytes.starts_with(0, "GIF87a") || bytes.starts_with(0, "GIF89a")) return gif(bytes);
  if (bytes.starts_with(0, "RIFF") && bytes.starts_with(8, "WEBP")) return webp(bytes);
  if (bytes.has(0, 3) && bytes.at(0) == 'P' && bytes.at(1) >= '1' && bytes.at(1) <= '6' &&
      std::isspace(bytes.at(2)))
    return netpbm(bytes, "PNM");
  if ((bytes.starts_with(0, "PF") || bytes.starts_with(0, "Pf")) && bytes.has(2, 1) &&
      std::isspace(bytes.at(2)))
    return netpbm(bytes, "PFM");
  if (bytes.has(0, 12) && bytes.be32(0) == 0x59A66A95)  // Sun raster: big-endian sizes
    return with_size("Sun raster", bytes.be32(4), bytes.be32(8));
  if (bytes.starts_with(0, "II*") || bytes.starts_with(0, "MM")) {
    if (bytes.has(0, 4) && (bytes.le16(2) == 42 || bytes.be16(2) == 42))
      return signature_only("TIFF");
  }
  if (bytes.starts_with(0, "\x76\x2f\x31\x01")) return signature_only("OpenEXR");
  if (bytes.starts_with(0, "#?RADIANCE") || bytes.starts_with(0, "#?RGBE"))
    return signature_only("Radiance HDR");
  if (bytes.starts_with(4, "jP  ") || (bytes.has(0, 4) && bytes.be32(0) == 0xFF4FFF51))
    return signature_only("JPEG 2000");
  return std::nullopt;
}

}  // namespace fer
