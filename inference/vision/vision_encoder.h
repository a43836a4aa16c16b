// Gemma 4's vision encoder: preprocessed pixels in, soft tokens for the text model out, on the CPU
// (here) or a Vulkan device (vision/vulkan_vision_encoder.h).
// Loads the vision tower of a llama.cpp mmproj GGUF (`clip.vision.*` keys, projector type
// `gemma4v`, `v.*` and `mm.input_projection` tensors), independently of an audio tower in the
// same file.
//
//     auto encoder = ocelle::vision::VisionEncoder::load("mmproj-gemma-4-e2b.gguf"); // throws VisionError
//     auto pre = ocelle::media::preprocessImage(rgb, {.budget = 280});
//     std::vector<float> tokens = encoder->encodePatches(pre.patches, pre.patchesX, pre.patchesY);
//
// What it computes (../shared/docs/gemma4.md section 7): 16x16 patches `2*(p - 0.5)` through the
// patch embedding, plus the x and y rows of the 2-D position table; transformer blocks (sandwich
// RMSNorms, q/k norms, weightless v norm, 2-D RoPE base 100 with the first half of each head
// rotated by the x position and the second by y, attention over every patch with scale 1.0,
// gated tanh-GELU FFN, linears clamped by the file's scalars where present, the block output
// times `out_scale` where present); 3x3 mean pooling; times sqrt(width); `(x - std_bias) *
// std_scale` on towers that carry those tensors (26B/31B); then `Wproj rms(x)`.
// Both tower sizes load from the same code: every optional piece is found by its tensors.
#pragma once

#include "model/hparams.h"
#include "model/layer_plan.h"
#include "model/tower_reader.h"

#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace ocelle::gguf {
class File;
}

namespace ocelle::vision {

// A file that cannot be used as a vision encoder (or a model/encoder pair that does not fit); the
// message names the file and the problem.
class VisionError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Fixed by the architecture (hard-coded in llama.cpp's clip.cpp for gemma4v, not in the file).
inline constexpr int kPoolingKernel = 3;
inline constexpr float kRopeBase = 100.0f;

// The vision FFN's activation. Gemma 4 is trained with tanh-GELU and Ocelle always uses it; the
// GELU-quick variant (x * sigmoid(1.702 x)) exists only to reproduce what llama.cpp computes for
// mmproj files its converter made without `clip.use_gelu`.
enum class Activation { GeluTanh, GeluQuick };

struct VisionEncoderParams {
    int width = 0;                   // clip.vision.embedding_length (768 or 1152)
    int ffnWidth = 0;                // clip.vision.feed_forward_length
    int layers = 0;                  // clip.vision.block_count (16 or 27)
    int heads = 0;                   // clip.vision.attention.head_count
    int headDim = 0;                 // width / heads (64 or 72)
    int patchSize = 0;               // clip.vision.patch_size (16)
    int projectionDim = 0;           // text model width (mm.input_projection rows)
    int positionTableSize = 0;       // rows of each axis' position table (10240)
    float normEpsilon = 1e-6f;       // clip.vision.attention.layer_norm_epsilon
    bool clampedLinears = false;     // some linear carries input/output clamp scalars (E models)
    bool standardize = false;        // v.std_bias / v.std_scale present (26B/31B)
    bool blockOutputScale = false;   // v.blk.N.out_scale present
    std::optional<bool> fileUseGelu; // clip.use_gelu as stored (noted, not followed)
    float imageMean[3] = {0, 0, 0};  // clip.vision.image_mean (Gemma 4: 0)
    float imageStd[3] = {1, 1, 1};   // clip.vision.image_std (Gemma 4: 1)
};

// Intermediate activations for debugging and the fixture comparison (*.acts.f32), row-major
// [token][values].
struct VisionEncoderTrace {
    std::vector<float> embeddings; // patch embedding + position tables
    // After each block, before its out_scale: where llama.cpp's `layer_out-N` is taken (the
    // fixture's values are the unscaled ones; the scaled stream feeds the next block).
    std::vector<std::vector<float>> layerOutputs;
    std::vector<float> pooled;         // 3x3 mean x sqrt(width) (before standardize)
    std::vector<float> projectorInput; // RMS-normed (input of mm.input_projection)
};

// True when the file declares a vision tower (clip.has_vision_encoder or a vision projector type).
bool hasVisionEncoder(const gguf::File& file);

// Which attention image tokens get inside the text model.
enum class ImageAttentionPolicy {
    HuggingFace, // E models causal; 26B/31B (no per-layer embeddings) bidirectional within an image on
                 // sliding layers
    LlamaCpp,    // bidirectional on sliding layers unless the text width is 1536 or 2560 (llama.cpp's E2B/E4B
                 // test)
};
const char* imageAttentionPolicyName(ImageAttentionPolicy policy); // "hf", "llama"
// Parses "hf" / "llama"; nothing for anything else.
std::optional<ImageAttentionPolicy> parseImageAttentionPolicy(const std::string& text);
// Whether the tokens of one image attend to each other bidirectionally (on sliding layers) in a
// text model of these hyperparameters under `policy`.
bool imageTokensBidirectional(ImageAttentionPolicy policy, const model::HyperParams& text);

using model::ClampedLinear;

// One transformer block of the tower, as read from the file (matrices point into the mapped file).
struct VisionBlock {
    std::vector<float> ln1, ln2, attnPostNorm, ffnPostNorm, qNorm, kNorm;
    ClampedLinear q, k, v, out, gate, up, down;
    float outScale = 1.0f;
};

// Every weight of the vision tower, shared by the backends.
struct VisionTower {
    model::Weight patchEmbedding; // D rows of [channel][row][column] (the conv kernel as stored)
    model::Weight positionTable;  // 2 * tableSize rows of D: the x table, then the y table
    std::vector<VisionBlock> blocks;
    std::vector<float> stdBias, stdScale; // empty unless standardize
    ClampedLinear projection;             // mm.input_projection
};

// The vision encoder on some backend (VisionEncoder::load: the CPU; vision::VulkanVisionEncoder: a
// Vulkan device; loadVisionEncoder: either). Loading, validation and the pixel layout are shared;
// backends compute encodeVectors.
class VisionEncoder {
public:
    // Opens and validates the vision tower on the CPU. Throws VisionError ("...: this mmproj has no
    // vision tower" for an audio-only file) or gguf::Error for a malformed file. threads <= 0: all.
    static std::unique_ptr<VisionEncoder> load(const std::string& path, int threads = 0);
    static std::unique_ptr<VisionEncoder> fromFile(std::unique_ptr<gguf::File> file, int threads = 0);
    virtual ~VisionEncoder();
    VisionEncoder(const VisionEncoder&) = delete;
    VisionEncoder& operator=(const VisionEncoder&) = delete;

    virtual const char* backendName() const = 0; // "cpu", "vulkan"
    const VisionEncoderParams& params() const { return params_; }
    const std::string& path() const;
    // Throws VisionError unless the projection width equals the text model's width.
    void checkCompatible(const model::HyperParams& text, const std::string& textModelName) const;

    // Soft tokens for a grid of patchesX x patchesY patches (each a multiple of 3).
    static int tokensFor(int patchesX, int patchesY);

    // Encodes llama.cpp's pixel tensor: planar [3][height][width], values u8/255 (before the
    // file's mean/std, which are applied here). width and height are multiples of 48.
    std::vector<float> encodePixels(std::span<const float> planar, int width, int height,
                                    VisionEncoderTrace* trace = nullptr) const;
    // Encodes patches as media::preprocessImage gives them: [patchesY * patchesX][16 * 16 * 3],
    // patches row-major, inside a patch (row, column, channel), values u8/255.
    std::vector<float> encodePatches(std::span<const float> patches, int patchesX, int patchesY,
                                     VisionEncoderTrace* trace = nullptr) const;
    // Both return tokensFor(...) rows of projectionDim floats, row-major over the pooled grid.
    // Throw VisionError for mis-sized input. Not thread-safe (one encode at a time per encoder).

    void setActivation(Activation activation) { activation_ = activation; }
    Activation activation() const { return activation_; }

protected:
    // Reads and validates the tower (throws VisionError / gguf::Error).
    explicit VisionEncoder(std::unique_ptr<gguf::File> file);
    const VisionTower& tower() const { return *tower_; }
    // Patch vectors [patch][channel][row][column] (the conv kernel's order), already mapped to the
    // graph's input range, into soft tokens.
    virtual std::vector<float> encodeVectors(std::vector<float> vectors, int patchesX, int patchesY,
                                             VisionEncoderTrace* trace) const = 0;

private:
    std::unique_ptr<gguf::File> file_;
    VisionEncoderParams params_;
    std::unique_ptr<VisionTower> tower_;
    Activation activation_ = Activation::GeluTanh;
};

// Where loadVisionEncoder puts the encoder.
struct VisionBackendOptions {
    bool vulkan = false; // false: the CPU
    std::string device; // Vulkan device index or name substring (empty: OCELLE_VULKAN_DEVICE, then automatic)
    int threads = 0;    // CPU threads (0: all)
};
// The encoder on the CPU or on a Vulkan device (vision/vulkan_vision_encoder.h). Callers that run the
// text model on Vulkan pass the same device, so images are encoded where the model runs.
std::unique_ptr<VisionEncoder> loadVisionEncoder(const std::string& path,
                                                 const VisionBackendOptions& options);

} // namespace ocelle::vision
