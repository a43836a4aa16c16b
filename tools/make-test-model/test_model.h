// Random-weight Gemma 4 GGUF files with chosen shapes and weight types, laid out exactly like
// llama.cpp's converter writes real Gemma 4 files (same keys, tensor names and shapes), so that
// llama.cpp (through node-llama-cpp) and Ocelle can both run them and be compared.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ocelle::testmodel {

enum class Style {
    E,       // E2B/E4B: per-layer embeddings, KV sharing of the tail layers, wider FFN on shared layers
    Moe,     // 26B-A4B: experts beside the dense FFN, KV heads per layer, K reused as V on full layers
    Dense31, // 31B: KV heads per layer, K reused as V on full layers, no per-layer embeddings
};

enum class Weights {
    F32,   // every tensor F32: llama.cpp then computes (almost) exact math
    Q8_0,  // matrices Q8_0 (norms, router, scalars F32)
    Q4_0,  // matrices Q4_0
    Mixed, // matrices cycle through Q8_0, F16, Q4_0, BF16; token embedding Q8_0
};

struct Spec {
    Style style = Style::E;
    Weights weights = Weights::F32;
    uint64_t seed = 1;
    int hidden = 32;
    int layers = 10;
    int heads = 2;
    int kvHeadsSliding = 1;
    int kvHeadsFull = 1;
    int headDimSliding = 64;
    int headDimFull = 128;
    int window = 6;    // sliding window W (positions including the current one)
    int fullEvery = 5; // layer i is full attention when i % fullEvery == fullEvery - 1; the last always is
    int ropeRotatedPairsFull = 16; // p-RoPE: pairs that rotate on full layers (of headDimFull / 2)
    int ffn = 64;           // dense FFN width (E: of the unshared layers; shared layers get twice as much)
    int sharedKvLayers = 0; // E: the last this-many layers read earlier layers' caches
    int perLayerDim = 0;    // E: per-layer embedding width
    int experts = 0;        // MoE
    int expertsUsed = 0;
    int expertFfn = 0;
    int vocab = 0; // 0: the tokenizer's whole vocabulary; else its first `vocab` tokens
    // Store every tensor as F32 holding the values `weights` would store (each rounded through its
    // type and decoded again). llama.cpp computes (almost) exact math on F32 weights, so this is a
    // tight reference for an engine running the quantized file with the same seed.
    bool dequantizedF32 = false;
};

// The default shapes of each style (different from the fixture models' shapes).
Spec defaultSpec(Style style);

// Throws std::invalid_argument naming the first inconsistent field.
void validate(const Spec& spec);

bool isSlidingLayer(const Spec& spec, int layer);
std::vector<int> ffnWidths(const Spec& spec);
std::vector<int> kvHeads(const Spec& spec);

// Writes the model to `outputPath`, copying every `tokenizer.*` key from the GGUF at `tokenizerPath`.
// Throws std::runtime_error (gguf::Error for an unreadable tokenizer file) with the reason.
void writeTestModel(const Spec& spec, const std::string& tokenizerPath, const std::string& outputPath);

const char* styleName(Style style);       // "e", "moe", "dense31"
const char* weightsName(Weights weights); // "f32", "q8_0", "q4_0", "mixed"

} // namespace ocelle::testmodel
