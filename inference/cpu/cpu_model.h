// The Gemma 4 text decoder on the CPU: a loaded model (weights memory-mapped, a thread pool) and
// sessions (a KV cache each) that evaluate tokens by executing the model's layer plan. Prefill
// (many tokens per pass) and decode (one token) are the same code on different batch sizes.
//
//     auto model = ocelle::cpu::CpuModel::load("gemma-4-E2B.gguf");          // throws on a bad file
//     auto session = model->createSession({.contextLength = 8192});
//     auto logits = session->prefill(promptIds);           // last position's logits (n_vocab)
//     logits = session->decode(nextId);
//
// Logits are after the final softcap. Errors: ContextFull (nothing evaluated), Cancelled (the
// cancel flag was seen between layers; the interrupted batch is rolled back, the session stays
// usable), std::invalid_argument for ids outside the vocabulary or malformed soft tokens.
#pragma once

#include "cpu/thread_pool.h"
#include "model/layer_plan.h"

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace ocelle::cpu {

class ContextFull : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

class Cancelled : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct SessionOptions {
    int64_t contextLength = 4096;
    model::KvType kvType = model::KvType::F32;
    // Tokens per forward pass inside prefill (bounds the working memory; results do not depend on it).
    int maxBatch = 256;
    // Extra slots in each sliding layer's ring beyond the window W. Each one lets truncate() go one
    // more position back without a re-prefill; 0 keeps the cache at exactly W slots.
    int slidingSlack = 0;
};

// Encoder output (image/audio soft tokens) replacing the embeddings of `count` positions starting at
// index `first` of the ids passed with it. Rows are n_embd wide and enter unscaled; the per-layer
// embedding's token part uses id 0 there.
struct SoftTokens {
    int64_t first = 0;
    int64_t count = 0;
    std::span<const float> embeddings; // count x n_embd
    // One image's tokens attending to each other on sliding layers: each of them also sees every
    // later position of this span (no window for those), earlier ones as usual; full layers stay
    // causal. (llama.cpp's non-causal image chunks; HF's rule for 26B/31B.) prefill() never splits
    // such a span across passes.
    bool bidirectional = false;
};

enum class LogitsFor { None, Last, All };

class CpuSession;

class CpuModel {
public:
    // threads <= 0: all hardware threads.
    static std::unique_ptr<CpuModel> load(const std::string& path, int threads = 0);
    CpuModel(std::unique_ptr<model::Model> model, int threads = 0);
    ~CpuModel();

    const model::Model& model() const { return *model_; }
    const model::HyperParams& hparams() const { return model_->hparams(); }
    int threads() const { return pool_.size(); }

    // Sessions share the model and its thread pool: run one pass at a time per model.
    std::unique_ptr<CpuSession> createSession(const SessionOptions& options = {}) const;

private:
    friend class CpuSession;
    std::unique_ptr<model::Model> model_;
    mutable ThreadPool pool_;
};

class CpuSession {
public:
    ~CpuSession();

    // Evaluates ids at positions position(), position()+1, ... and returns the logits asked for:
    // Last: n_vocab values of the last id; All: ids.size() rows of n_vocab; None: empty.
    // Long inputs run in passes of maxBatch tokens; each finished pass is committed to the cache.
    std::vector<float> prefill(std::span<const int32_t> ids, LogitsFor logits = LogitsFor::Last,
                               std::span<const SoftTokens> softTokens = {});
    // One token; returns its logits.
    std::vector<float> decode(int32_t id);

    // Checked before every layer and before the output head. nullptr: never cancelled.
    void setCancelFlag(const std::atomic<bool>* flag) { cancel_ = flag; }

    int64_t position() const { return position_; }
    int64_t contextLength() const { return options_.contextLength; }
    const SessionOptions& options() const { return options_; }
    int nVocab() const;

    void reset() { position_ = 0; }
    // Whether the caches still hold everything positions >= newPosition would need (sliding rings
    // overwrite old positions; full layers keep all). 0 <= newPosition <= position().
    bool canTruncateTo(int64_t newPosition) const;
    // Forgets positions >= newPosition. Throws std::invalid_argument when !canTruncateTo(newPosition):
    // the caller then resets and prefills the kept tokens again.
    void truncate(int64_t newPosition);

    // KV cache plus the working buffers this session holds.
    size_t memoryBytes() const;

private:
    friend class CpuModel;
    CpuSession(const CpuModel& model, const SessionOptions& options);
    struct Impl;
    const CpuModel& model_;
    SessionOptions options_;
    int64_t position_ = 0;
    const std::atomic<bool>* cancel_ = nullptr;
    std::unique_ptr<Impl> impl_;
};

} // namespace ocelle::cpu
