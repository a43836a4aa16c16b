// Gemma 4's audio encoder (E2B, E4B) on the CPU or a Vulkan device: log-mel features in, soft
// tokens for the text model out. Loads the audio tower of a llama.cpp mmproj GGUF (`clip.audio.*`
// keys, `a.*` and `mm.a.*` tensors), independently of the vision tower in the same file.
//
//     auto encoder = ocelle::audio::AudioEncoder::load("mmproj-gemma-4-e2b.gguf");  // throws AudioError
//     auto mel = ocelle::media::logMelFeatures(samples);                             // one <= 30 s piece
//     std::vector<float> tokens = encoder->encode(mel.values, mel.frames);        // N x projectionDim
//
// What it computes (../shared/docs/gemma4.md section 9, llama.cpp's and HF's semantics): two 3x3
// stride-2 convolutions (channel LayerNorm, ReLU), the input projection, conformer layers (half-step
// SiLU FFN, chunked causal local attention with Transformer-XL relative positions and softcap 50,
// light conv module, second half-step FFN, output norm; linears clamped by the file's scalars), the
// output projection with bias, then `Wproj rms(x)`. Residual stream and accumulators are fp32.
#pragma once

#include "model/hparams.h"

#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace ocelle::gguf {
class File;
}

namespace ocelle::audio {

// A file that cannot be used as an audio encoder (or a model that takes no audio); the message
// names the file and the problem.
class AudioError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Attention window of the conformer (fixed by the architecture, not stored in the file).
inline constexpr int kAttentionChunk = 12;    // queries per block
inline constexpr int kAttentionKeys = 12;     // keys a frame sees: itself and the 11 before it
inline constexpr int kRelativePositions = 13; // sinusoid table rows (distances 12..0)
inline constexpr float kAttentionSoftcap = 50.0f;
inline constexpr float kNormEpsilon = 1e-6f; // gemma4a uses 1e-6 whatever the file says

struct AudioEncoderParams {
    int melBins = 0;        // clip.audio.num_mel_bins (128)
    int width = 0;          // conformer width, clip.audio.embedding_length (1024)
    int ffnWidth = 0;       // clip.audio.feed_forward_length (4096)
    int layers = 0;         // clip.audio.block_count (12)
    int heads = 0;          // clip.audio.attention.head_count (8)
    int headDim = 0;        // width / heads
    int projectionDim = 0;  // text model width, clip.audio.projection_dim
    int convChannels0 = 0;  // first sub-sampling conv's output channels (128)
    int convChannels1 = 0;  // second's (32)
    int subsampledBins = 0; // frequency bins after the two convs (32)
    int outputDim = 0;      // a.pre_encode.out width (1536)
    int convKernel = 0;     // depthwise conv width (5)
};

// Intermediate activations for debugging and the fixture comparison (speech.acts.f32), each
// row-major [token][values].
struct AudioEncoderTrace {
    std::vector<float> subsampled;      // flattened conv output (frequency x channels, channel fastest)
    std::vector<float> conformerInput;  // after the input projection
    std::vector<float> conformerOutput; // after the last conformer layer
    std::vector<float> projectorInput;  // RMS-normed output projection (input of mm.a.input_projection)
};

// True when the file declares an audio tower (clip.has_audio_encoder or clip.audio.projector_type).
bool hasAudioEncoder(const gguf::File& file);

// Throws AudioError when a text model of these hyperparameters cannot take audio: 26B-A4B and 31B
// have no audio encoder; otherwise the encoder's projection width must equal the model's width.
void checkTextModelTakesAudio(const model::HyperParams& text, const std::string& textModelName);

struct AudioTower; // the validated weights (audio_tower.h)

// An audio encoder on one backend. The CPU one comes from load()/fromFile(); VulkanAudioEncoder
// (vulkan_audio_encoder.h) runs the same computation on a Vulkan device; loadAudioEncoder picks.
class AudioEncoder {
public:
    // Opens and validates the audio tower for the CPU. Throws AudioError ("...: this model has no
    // audio encoder" for an mmproj without one) or gguf::Error for a malformed file. threads <= 0: all.
    static std::unique_ptr<AudioEncoder> load(const std::string& path, int threads = 0);
    static std::unique_ptr<AudioEncoder> fromFile(std::unique_ptr<gguf::File> file, int threads = 0);
    virtual ~AudioEncoder();
    AudioEncoder(const AudioEncoder&) = delete;
    AudioEncoder& operator=(const AudioEncoder&) = delete;

    const AudioEncoderParams& params() const { return params_; }
    const std::string& path() const;
    // "cpu" or "vulkan (<device name>)".
    virtual std::string backendName() const = 0;
    // Throws AudioError unless this encoder's output fits the text model (see checkTextModelTakesAudio).
    void checkCompatible(const model::HyperParams& text, const std::string& textModelName) const;

    // Soft tokens produced from `frames` mel frames (two stride-2 convolutions).
    static int tokensForFrames(int frames);

    // Encodes one piece of log-mel features, mel-major [melBins][frames] (media::LogMel::values).
    // Returns tokensForFrames(frames) rows of projectionDim floats. Throws AudioError for a
    // mis-sized input or fewer than 1 frame. Not thread-safe (one encode at a time per encoder).
    virtual std::vector<float> encode(std::span<const float> mel, int frames,
                                      AudioEncoderTrace* trace = nullptr) const = 0;

protected:
    // Reads and validates the tower (throws as load()).
    explicit AudioEncoder(std::unique_ptr<gguf::File> file);
    // Throws AudioError unless mel holds melBins x frames values, frames >= 1.
    void checkInput(std::span<const float> mel, int frames) const;
    const AudioTower& tower() const { return *tower_; }

private:
    std::unique_ptr<gguf::File> file_;
    AudioEncoderParams params_;
    std::unique_ptr<AudioTower> tower_;
};

enum class AudioBackend { Cpu, Vulkan };

struct AudioEncoderOptions {
    AudioBackend backend = AudioBackend::Cpu;
    int threads = 0;    // CPU: threads (<= 0: all)
    std::string device; // Vulkan: vulkan::chooseDevice's forced choice (index or name substring)
};

// The audio encoder of an mmproj file on the chosen backend. Throws AudioError / gguf::Error as
// load(), vulkan::VulkanError when the device cannot be opened or lacks memory.
std::unique_ptr<AudioEncoder> loadAudioEncoder(const std::string& path, const AudioEncoderOptions& options);

} // namespace ocelle::audio
