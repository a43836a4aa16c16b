// The interface between the generation API (engine.h) and whatever runs the model (the CPU path,
// later Vulkan). The engine only sees this, so tests drive it with a scripted backend and new
// backends plug in without touching the session logic.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace ocelle::engine {

enum class KvCacheType { F32, F16 };

struct SessionOptions {
    int contextLength = 0; // 0: the model's training context, capped at kDefaultContextLength
    KvCacheType kvCacheType = KvCacheType::F32;
    // How far back the cache can be cut without evaluating everything again. Sliding-window layers
    // keep only their window plus this many positions; when a new prompt leaves the old one
    // further back than that (e.g. a re-rendered model turn whose long reasoning was dropped), the
    // whole prompt is evaluated afresh. More slack costs KV memory on the sliding layers.
    int rollbackSlack = 512;

    static constexpr int kDefaultContextLength = 8192;
    // Tokens per prefill pass of the engine's backends. A cancel is seen between layers, so a
    // pass's layer time bounds how fast cancel() takes effect; 64 keeps that short on big models
    // while the weights, read once per pass, are still amortised over enough tokens.
    static constexpr int kPassTokens = 64;
};

// Encoder output (image or audio soft tokens) replacing the token embeddings of a run of
// positions. `first` counts from the start of the ids handed over with it.
struct SoftTokenView {
    int first = 0;
    int count = 0;
    std::span<const float> embeddings; // count x embedding length, row-major
    bool bidirectional = false;        // see engine::SoftTokenSpan::bidirectional
};

// One context's worth of model state (the KV cache) on a backend.
class BackendSession {
public:
    virtual ~BackendSession() = default;

    virtual int contextLength() const = 0;
    // How many positions the cache holds; the next token is evaluated at this position.
    virtual int position() const = 0;

    // Runs `ids` at positions position(), position()+1, ... (soft tokens replace the embeddings at
    // their positions). Returns true when every token was evaluated: position() advanced by
    // ids.size() and `lastLogits` holds the vocabulary logits of the last token (after the final
    // softcap). Returns false when `cancel` became true: position() then counts only tokens whose
    // effects are completely in the cache (a partly evaluated batch is rolled back), so the session
    // stays usable. The caller guarantees position() + ids.size() <= contextLength().
    virtual bool evaluate(std::span<const int32_t> ids, std::span<const SoftTokenView> softTokens,
                          const std::atomic<bool>& cancel, std::vector<float>& lastLogits) = 0;

    // Forgets positions >= newPosition. Returns false when the cache cannot go back that far
    // exactly (e.g. a sliding-window ring already overwrote what would be needed); truncate(0)
    // always succeeds.
    virtual bool truncate(int newPosition) = 0;

    virtual size_t memoryBytes() const = 0; // the cache and scratch this session owns
};

// A loaded model on a backend.
class Backend {
public:
    virtual ~Backend() = default;

    virtual std::string name() const = 0; // "cpu", ...
    virtual int vocabSize() const = 0;
    virtual int embeddingLength() const = 0; // width of a soft-token embedding
    virtual int trainedContextLength() const = 0;
    virtual size_t memoryBytes() const = 0; // weights and tables resident for this model

    // contextLength in `options` is already resolved (> 0) by the engine.
    virtual std::unique_ptr<BackendSession> createSession(const SessionOptions& options) = 0;
};

// Turns generated ids into text as they arrive.
class TextDecoder {
public:
    virtual ~TextDecoder() = default;
    // The text that `id` completes (may be empty while a multi-byte character is still partial).
    virtual std::string push(int32_t id) = 0;
    // Whatever is still held back at the end of generation.
    virtual std::string finish() = 0;
};

} // namespace ocelle::engine
