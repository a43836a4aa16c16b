// The layer plan: one description of what every Gemma 4 layer computes, built once from the file
// and executed by every backend (CPU decode and prefill, later Vulkan). Backends never look up
// tensors or hyperparameters themselves, so decode and prefill cannot drift apart.
#pragma once

#include "model/hparams.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace ocelle::gguf {
class File;
struct TensorInfo;
} // namespace ocelle::gguf

namespace ocelle::model {

// A matrix in the file, used in place (memory-mapped): `rows` outputs, each a row of `cols`
// inputs stored as `rowBytes` bytes of `type` blocks. 3-D expert tensors are `experts` such
// matrices back to back.
struct Weight {
    const gguf::TensorInfo* tensor = nullptr;
    uint32_t type = 0;
    const uint8_t* data = nullptr;
    int64_t cols = 0;
    int64_t rows = 0;
    uint64_t rowBytes = 0;
    int64_t experts = 1;

    explicit operator bool() const { return data != nullptr; }
    // Rows [first, first + count) as a matrix of their own (e.g. one expert, or the up half).
    Weight rowRange(int64_t first, int64_t count) const;
    // Expert e of a 3-D tensor (rows / experts rows each).
    Weight expert(int64_t e) const;
    std::string name() const;
};

struct AttentionPlan {
    bool sliding = false;
    int window = 0; // W for sliding layers, 0 for full
    int nHead = 0;
    int nHeadKv = 0;
    int headDim = 0;
    int ropeDims = 0;
    float ropeBase = 0;
    bool ropeUsesFreqFactors = false; // full layers: divide angles by ModelPlan::ropeFreqFactors
    bool ownsKv = false;              // computes K/V and has a cache; else reads kvSource's
    int kvSource = 0;                 // layer whose K/V (and cache) this layer attends over
    int cacheIndex = 0;               // index of kvSource's cache among the owning layers
    bool valueFromKey = false;        // no attn_v: V is the raw K projection
    Weight q, k, v, output;
    std::vector<float> qNorm, kNorm; // length headDim, shared by heads
};

struct DenseFfnPlan {
    int width = 0;
    Weight gate, up, down;
};

struct MoePlan {
    int nExpert = 0;
    int nUsed = 0;
    int width = 0;                  // per expert
    Weight router;                  // ffn_gate_inp {n_embd, n_expert}
    std::vector<float> routerScale; // ffn_gate_inp.scale {n_embd}
    Weight gateUp;                  // fused {n_embd, 2*width, n_expert}: rows [0,width) gate, then up
    Weight gate, up;                // or split {n_embd, width, n_expert} each
    Weight down;                    // {width, n_embd, n_expert}
    std::vector<float> downScale;   // per expert (1.0 when the file has none)
    std::vector<float> preNorm2, postNorm1, postNorm2;
};

struct PerLayerInputPlan {
    Weight inputGate;  // inp_gate {n_embd, D}
    Weight projection; // proj {D, n_embd}
    std::vector<float> postNorm;
};

struct LayerPlan {
    int index = 0;
    std::vector<float> attnNorm, postAttentionNorm;
    AttentionPlan attention;
    std::vector<float> ffnNorm, postFfwNorm;
    DenseFfnPlan ffn;
    std::optional<MoePlan> moe;
    std::optional<PerLayerInputPlan> perLayerInput;
    float outputScale = 1.0f;
};

struct ModelPlan {
    HyperParams hp;
    Weight tokenEmbedding; // also the (tied) LM head
    std::vector<float> outputNorm;
    std::vector<float> ropeFreqFactors; // rope_freqs (full layers), empty when absent
    // Per-layer embeddings (E models).
    Weight perLayerTokenEmbedding;             // {L*D, n_vocab}
    Weight perLayerModelProjection;            // {n_embd, L*D}
    std::vector<float> perLayerProjectionNorm; // {D}
    std::vector<LayerPlan> layers;
    std::vector<int> cacheOwners; // layer index of each KV cache
    uint64_t weightBytes = 0;     // all tensor data

    // Validates the tensor set against the hyperparameters: a missing, mis-shaped or unusable
    // tensor is a ModelError naming it. Small vectors (norms, scales) are copied out as f32.
    static ModelPlan build(const gguf::File& file, HyperParams hp);
};

// A loaded Gemma 4 text model: the mapped file and its plan.
class Model {
public:
    // Opens, validates and plans the file. Throws ModelError (or gguf::Error for a malformed file).
    static std::unique_ptr<Model> load(const std::string& path);
    static std::unique_ptr<Model> fromFile(std::unique_ptr<gguf::File> file);
    ~Model();

    const gguf::File& file() const { return *file_; }
    const HyperParams& hparams() const { return plan_.hp; }
    const ModelPlan& plan() const { return plan_; }

private:
    Model() = default;
    std::unique_ptr<gguf::File> file_;
    ModelPlan plan_;
};

} // namespace ocelle::model
