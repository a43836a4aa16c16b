// Gemma 4 hyperparameters read from a GGUF file's `gemma4.*` keys, the variant they describe, and
// how much memory a session at a given context length needs.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace ocelle::gguf {
class File;
}

namespace ocelle::model {

// A file that is not a usable Gemma 4 text model: wrong architecture, missing or inconsistent
// hyperparameters, a missing or mis-shaped tensor. The message names the file and the problem.
class ModelError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

enum class Variant { E2B, E4B, A4B26B, Dense31B, Other };
const char* variantName(Variant v); // "E2B", "E4B", "26B-A4B", "31B", "other"

// Element type of the KV cache.
enum class KvType { F32, F16 };
const char* kvTypeName(KvType t);
inline int kvTypeBytes(KvType t) {
    return t == KvType::F32 ? 4 : 2;
}

struct LayerHyperParams {
    bool sliding = false;  // sliding-window attention (else full/global attention)
    int headDim = 0;       // key and value length for this layer's type
    int nHeadKv = 0;       // KV heads
    int ffnWidth = 0;      // dense FFN width
    float ropeBase = 0;    // RoPE frequency base for this layer's type
    int ropeDims = 0;      // dimensions RoPE acts on (NeoX pairing i, i + ropeDims/2)
    bool sharedKv = false; // reads another layer's KV cache instead of computing K and V
    int kvSource = 0;      // the layer whose KV cache this layer attends over (itself unless shared)
};

struct HyperParams {
    std::string architecture;  // "gemma4"
    std::string name;          // general.name, if any
    int64_t contextLength = 0; // trained context
    int nEmbd = 0;
    int nLayer = 0;
    int nHead = 0;
    int nVocab = 0;         // rows of token_embd
    int headDimFull = 0;    // attention.key_length (= value_length)
    int headDimSliding = 0; // attention.key_length_swa (= value_length_swa)
    int ropeDimsFull = 0;
    int ropeDimsSliding = 0;
    float ropeBaseFull = 0;
    float ropeBaseSliding = 0;
    float rmsEps = 1e-6f;
    int slidingWindow = 0;       // W: positions a sliding layer sees, including the current one
    int sharedKvLayers = 0;      // the last this-many layers reuse earlier layers' caches
    int perLayerInputDim = 0;    // per-layer embedding width D (0: no per-layer embeddings)
    float finalLogitSoftcap = 0; // 0: none
    int nExpert = 0;
    int nExpertUsed = 0;
    int expertFfnWidth = 0;
    std::vector<LayerHyperParams> layers;
    Variant variant = Variant::Other;

    // Reads and cross-checks the `gemma4.*` keys (and token_embd's row count for the vocabulary).
    // Throws ModelError naming the file and the problem; another architecture is refused with a
    // message saying what was found.
    static HyperParams fromFile(const gguf::File& file);

    int firstSharedLayer() const { return nLayer - sharedKvLayers; }
    bool isMoe() const { return nExpert > 0; }
    bool hasPerLayerInputs() const { return perLayerInputDim > 0; }
    int layersOwningKv() const; // layers with their own cache
};

struct MemoryEstimate {
    uint64_t weights = 0;     // the mapped file's tensor data
    uint64_t kvCache = 0;     // caches of the layers that own one, at the requested context
    uint64_t activations = 0; // working buffers of one pass of `batch` tokens, plus one row of logits
    uint64_t total() const { return weights + kvCache + activations; }
};

// Sliding layers keep a ring of min(W, context) positions, full layers the whole context,
// shared layers none.
uint64_t kvCacheBytes(const HyperParams& hp, int64_t contextLength, KvType kvType);
MemoryEstimate estimateMemory(const HyperParams& hp, uint64_t weightBytes, int64_t contextLength,
                              KvType kvType, int batch);

} // namespace ocelle::model
