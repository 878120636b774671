#pragma once
// Procedural FER-like faces: a 48x48 grayscale face whose expression depends on the
// emotion (mouth curve, width and openness, brow angle and height, eye openness),
// under random identity, pose, scale, lighting and noise. Learnable, but not by a
// single pixel: the class is carried by shapes that move with the pose.

#include <cstdint>

namespace fer {

// Renders one face into out[48*48]. The image depends only on (emotion, seed).
void render_synthetic_face(std::uint8_t emotion, std::uint64_t seed, std::uint8_t* out);

}  // namespace fer
