#pragma once
// Per-split image statistics stored in the manifest: brightness, contrast and
// sharpness. They catch data whose splits differ in kind (e.g. a training set that
// was blurred or recompressed while the test images were not), which no label count
// shows and which makes a model fail on the split it was not trained on.

#include "data/image_set.hpp"
#include "data/manifest.hpp"

namespace fer {

// Mean and standard deviation of the pixel values (0..255), and sharpness: the mean
// over images of the variance of the 3x3 Laplacian (the measure behind OpenCV's
// Laplacian focus check). Zeros for an empty split.
ImageStats image_statistics(const ImageSet& images, Split split);

// A warning when splits differ in sharpness by more than `ratio`, naming both; empty
// when they agree or a split has no images.
std::string sharpness_warning(const Manifest& manifest, double ratio = 4.0);

}  // namespace fer
