#pragma once
// The image-folder edition of FER2013: ROOT/{train,test}/<class>/<file>. Also
// accepts ROOT/val (or validation). The class is the folder name (by name: angry,
// disgust(ed), fear(ful), happy, sad, surprise(d), neutral). The split comes from the
// file-name prefix Training_ / PublicTest_ / PrivateTest_ when present; otherwise
// from the folder: files of train/ without a prefix are split train/val by a seeded
// stratified draw (IngestOptions::val_fraction), val/ is val and test/ is test.
// Images that are not 48x48 8-bit grayscale are converted (area resize) and counted.

#include <filesystem>

#include "data/image_set.hpp"

namespace fer {

ImageSet read_image_folder(const std::filesystem::path& root, const IngestOptions& options,
                           IngestReport& report);

// Decodes one encoded image (any format OpenCV reads) into 48x48 gray. Returns an
// empty string on success, else what is wrong. `converted` tells whether the image
// needed conversion (other size, colour or depth).
std::string decode_face_image(const std::vector<unsigned char>& encoded, std::uint8_t* out48x48,
                              bool& converted);

}  // namespace fer
