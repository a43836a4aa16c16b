// The audio tower's weights as read and validated from the mmproj file, shared by the CPU and
// Vulkan encoders (model::Weight views point into the file's mapping). Internal to ocelle_audio.
#pragma once

#include "audio/audio_encoder.h"
#include "model/layer_plan.h"
#include "model/tower_reader.h"

#include <limits>
#include <vector>

namespace ocelle::audio {

using model::ClampedLinear;

struct ConformerLayer {
    std::vector<float> ffnNorm, ffnPostNorm;
    ClampedLinear ffnUp, ffnDown;
    std::vector<float> attnPreNorm, attnPostNorm;
    ClampedLinear q, k, v, out;
    model::Weight relativeKey;
    std::vector<float> perDimScale; // after softplus, as stored
    std::vector<float> convPreNorm, convNorm;
    ClampedLinear convPw1, convPw2;
    std::vector<float> depthwise; // [channel][kernel]
    std::vector<float> ffn2Norm, ffn2PostNorm;
    ClampedLinear ffn2Up, ffn2Down;
    std::vector<float> outNorm;
};

struct AudioTower {
    // Convolution kernels repacked from the file's [out][in][kh(time)][kw(freq)] to
    // [kh][kw][out][in], so each output channel's taps over the input channels are contiguous.
    std::vector<float> conv0, conv0Norm;
    std::vector<float> conv1, conv1Norm;
    ClampedLinear inputProjection;
    std::vector<ConformerLayer> layers;
    std::vector<float> relativePositions; // [kRelativePositions][width] sinusoids, row j = distance 12 - j
    model::Weight outputProjection;
    std::vector<float> outputBias;
    model::Weight textProjection; // mm.a.input_projection
};

// The conformer attention's fixed scales: queries by 1/sqrt(headDim)/ln 2 (times the per-dimension
// scale), keys by softplus(1)/ln 2.
float attentionQueryScale(int headDim);
float attentionKeyScale();

} // namespace ocelle::audio
