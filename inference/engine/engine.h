// Ocelle's generation API: the one entry point the app, the CLI and the server use.
//
//   auto model = engine::Model::load("gemma-4-e2b.gguf");
//   auto session = model->createSession({.contextLength = 4096});
//   session->feed(prompt);                        // rendered prompt: ids (+ soft tokens)
//   auto result = session->generate(options, [](const engine::TokenEvent& t) {
//       std::fwrite(t.text.data(), 1, t.text.size(), stdout);
//       return true;                              // false stops generation
//   });
//
// Threads: feed() and generate() run on the caller's thread (the app calls them on its engine
// thread). cancel() may be called from any thread at any time; a Session is otherwise used by one
// thread at a time. Several sessions of one Model may run on different threads (the CPU backend
// runs their forward passes one after the other).
//
// Cancellation is a level, not an event: after cancel(), the operation in progress and every
// later feed()/generate() return promptly as cancelled until resetCancel() is called. The
// requester calls resetCancel() before it hands a new request to the engine thread, so a stop
// pressed just before the worker starts is never lost and an old stop never hits a new request.
// A cancelled session stays usable: the cache keeps exactly the tokens that were fully evaluated.
//
// The cache (KV) follows the conversation: feed() compares the prompt with what the cache holds
// and evaluates only the part after the common prefix, so re-rendering the whole conversation for
// every turn costs only the new tokens.
//
// Context full: feed() throws Error{ContextFull} when the prompt does not fit (nothing is
// evaluated), generate() stops with StopReason::ContextFull when the cache is full. The engine's
// policy is "stop and report"; the caller chooses what follows, e.g. re-render the conversation
// without its oldest turns and feed it again (the prefix changes, so it is evaluated afresh).
#pragma once

#include "engine/backend.h"
#include "engine/sampler.h"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace ocelle::tokenizer {
class Vocab;
}
namespace ocelle::audio {
class AudioEncoder;
}
namespace ocelle::vision {
class VisionEncoder;
}

namespace ocelle::engine {

enum class ErrorKind {
    ModelLoad,       // the file is missing, unreadable, or not a model this engine runs
    InvalidArgument, // a prompt or option the engine cannot use
    ContextFull,     // the prompt does not fit into the session's context
    InvalidState,    // e.g. generate() with nothing fed
    LoadCancelled,   // LoadOptions::progress returned false
};

class Error : public std::runtime_error {
public:
    Error(ErrorKind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
    ErrorKind kind() const { return kind_; }

private:
    ErrorKind kind_;
};

// Soft tokens (image/audio encoder output) at a run of prompt positions; the ids at those
// positions are placeholders (e.g. <|image|>) and only identify the run for prefix reuse.
struct SoftTokenSpan {
    int first = 0; // index into Prompt::ids
    int count = 0;
    std::vector<float> embeddings; // count x Model::embeddingLength(), row-major
    // The run's tokens also see each other's later positions on sliding layers (one image under a
    // bidirectional policy, see vision::imageTokensBidirectional); false: causal like text.
    bool bidirectional = false;
};

struct Prompt {
    std::vector<int32_t> ids;
    std::vector<SoftTokenSpan> softTokens; // sorted by `first`, not overlapping
};

// Auto: Vulkan when a discrete, integrated or virtual GPU is usable, else the CPU (a CPU-type
// Vulkan device such as lavapipe is never chosen automatically: the CPU path is faster there).
enum class BackendKind { Auto, Cpu, Vulkan };

// How far loading got: bytes of weights read (CPU) or uploaded (Vulkan) of the total. Called on the
// loading thread; returning false stops the load with Error{LoadCancelled}.
using LoadProgress = std::function<bool(uint64_t done, uint64_t total)>;

struct LoadOptions {
    BackendKind backend = BackendKind::Auto;
    int threads = 0;    // 0: every core (CPU backend)
    std::string device; // Vulkan device index or name substring; empty: OCELLE_VULKAN_DEVICE, then automatic
    // With a progress callback, the CPU backend also reads the mapped weights into memory while
    // loading (when they fit into RAM), so the first answer does not wait for the disk.
    LoadProgress progress;
};

// Which backend (and Vulkan device) load() will use for these options, and why, for the user.
struct BackendChoice {
    BackendKind backend = BackendKind::Cpu;
    std::string device;   // the Vulkan device's name, empty for the CPU
    int deviceIndex = -1; // its Vulkan index
    std::string reason;
    // The memory a model can use there: the Vulkan device's device-local heaps, or the
    // computer's physical RAM for the CPU (0 when unknown).
    uint64_t memoryBytes = 0;
};
BackendChoice chooseBackend(const LoadOptions& options);

// Physical RAM of this computer in bytes (0 when unknown).
uint64_t systemMemoryBytes();

class Model;

// The audio encoder of an mmproj file on the backend `options` resolve to (chooseBackend): the
// Vulkan encoder on that device when the text model runs (or would run) on Vulkan, else the CPU
// encoder with options.threads. Throws audio::AudioError / gguf::Error for an unusable file,
// Error{ModelLoad} when the backend cannot be opened.
std::unique_ptr<audio::AudioEncoder> loadAudioEncoder(const std::string& mmproj, const LoadOptions& options);
// On the backend and device `model` runs on.
std::unique_ptr<audio::AudioEncoder> loadAudioEncoder(const std::string& mmproj, const Model& model);
// The vision encoder likewise (vision::VulkanVisionEncoder on the Vulkan device, else the CPU one).
std::unique_ptr<vision::VisionEncoder> loadVisionEncoder(const std::string& mmproj,
                                                         const LoadOptions& options);
std::unique_ptr<vision::VisionEncoder> loadVisionEncoder(const std::string& mmproj, const Model& model);

struct GenerateOptions {
    SamplerParams sampling;
    // stop.stopIds empty: the model's stopTokenIds() (eos, <turn|>, <|tool_response>);
    // stop.maxTokens <= 0: until a stop token or the end of the context.
    StopConditions stop;
};

struct TokenEvent {
    int32_t id;            // -1 for text still held back when generation ends (an incomplete character)
    std::string_view text; // UTF-8, always whole characters (may be empty)
    int index;             // 0 for the first generated token
};

// Return false to stop generation after this token.
using TokenCallback = std::function<bool(const TokenEvent&)>;

enum class StopReason {
    StopToken,   // a stop id was sampled (not emitted, see GenerateResult::stopToken)
    MaxTokens,   // GenerateOptions::stop.maxTokens tokens were emitted
    ContextFull, // the cache is full; see the session's comment at the top of this file
    Cancelled,
    Callback, // the callback returned false
};

const char* stopReasonName(StopReason reason);

struct Stats {
    int promptTokens = 0;  // tokens in the last fed prompt
    int reusedTokens = 0;  // of those, found already in the cache
    int prefillTokens = 0; // of those, evaluated
    double prefillSeconds = 0;
    int generatedTokens = 0; // tokens emitted by the last generate()
    int decodedTokens = 0;   // tokens evaluated by the last generate() (each emitted token but the last)
    double decodeSeconds = 0;
    double timeToFirstTokenSeconds = -1; // from the start of feed() to the first token; -1: none yet
    size_t modelBytes = 0;
    size_t sessionBytes = 0;

    double prefillTokensPerSecond() const { return prefillSeconds > 0 ? prefillTokens / prefillSeconds : 0; }
    double decodeTokensPerSecond() const { return decodeSeconds > 0 ? decodedTokens / decodeSeconds : 0; }
};

struct FeedResult {
    bool cancelled = false;
    int reused = 0;    // prompt tokens already in the cache
    int evaluated = 0; // prompt tokens evaluated now
};

struct GenerateResult {
    StopReason reason = StopReason::StopToken;
    std::vector<int32_t> tokens; // emitted ids, in order (the stop token is not among them)
    std::string text;            // the concatenated text of every event
    int32_t stopToken = -1;      // the stop id, when reason == StopToken
    std::string message;         // a sentence for the user when reason is ContextFull or Cancelled
};

class Session;

// Makes the text decoder for one generate() call.
using TextDecoderFactory = std::function<std::unique_ptr<TextDecoder>()>;

class Model : public std::enable_shared_from_this<Model> {
public:
    // Loads a GGUF file. Throws Error{ModelLoad} naming the file and the problem.
    static std::shared_ptr<Model> load(const std::string& path, const LoadOptions& options = {});

    // A model from parts: backends and tests use this.
    Model(std::unique_ptr<Backend> backend, TextDecoderFactory textDecoders,
          std::unordered_set<int32_t> stopIds);
    ~Model();

    std::unique_ptr<Session> createSession(const SessionOptions& options = {});

    int vocabSize() const;
    int embeddingLength() const;
    int trainedContextLength() const;
    size_t memoryBytes() const;
    std::string backendName() const;
    // Options that load onto this model's backend again: Cpu, or Vulkan with the device index
    // (models made from parts: Cpu).
    const LoadOptions& backendOptions() const { return backendOptions_; }
    void setBackendOptions(LoadOptions options) { backendOptions_ = std::move(options); }
    const std::unordered_set<int32_t>& stopTokenIds() const { return stopIds_; }
    std::unique_ptr<TextDecoder> newTextDecoder() const { return textDecoders_(); }

    // The vocabulary of a model made by load() (prompt rendering needs it); null for models made
    // from parts without one.
    std::shared_ptr<const tokenizer::Vocab> vocab() const { return vocab_; }
    void setVocab(std::shared_ptr<const tokenizer::Vocab> vocab) { vocab_ = std::move(vocab); }

private:
    friend class Session;
    std::unique_ptr<Backend> backend_;
    TextDecoderFactory textDecoders_;
    std::unordered_set<int32_t> stopIds_;
    std::shared_ptr<const tokenizer::Vocab> vocab_;
    LoadOptions backendOptions_{.backend = BackendKind::Cpu, .threads = 0, .device = {}, .progress = {}};
};

class Session {
public:
    ~Session();
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    // Makes the cache hold exactly `prompt`, evaluating what is not there yet, and keeps the last
    // token's logits for generate(). Throws Error{ContextFull} / Error{InvalidArgument}.
    FeedResult feed(const Prompt& prompt);

    // Samples tokens, streaming each through `onToken`, until a stop condition. Starts from the
    // logits left by feed(); every emitted token but the last is evaluated into the cache. To go
    // on after a generate(), feed the prompt extended by what was generated (only the new tokens
    // are evaluated). Throws Error{InvalidState} when there are no logits to start from.
    GenerateResult generate(const GenerateOptions& options, const TokenCallback& onToken = {});

    void cancel() noexcept { cancel_.store(true, std::memory_order_relaxed); }
    void resetCancel() noexcept { cancel_.store(false, std::memory_order_relaxed); }
    bool cancelRequested() const noexcept { return cancel_.load(std::memory_order_relaxed); }

    void clear(); // empties the cache

    int position() const; // positions in the cache
    int contextLength() const;
    const std::vector<int32_t>& cachedIds() const { return cachedIds_; }
    // Logits after the last fed token; empty when there are none (nothing fed, or consumed).
    std::span<const float> lastLogits() const;
    const Stats& stats() const { return stats_; }
    const Model& model() const { return *model_; }

private:
    friend class Model;
    Session(std::shared_ptr<Model> model, std::unique_ptr<BackendSession> backend);
    void syncCacheToBackend();

    std::shared_ptr<Model> model_;
    std::unique_ptr<BackendSession> backend_;
    std::atomic<bool> cancel_{false};
    // One entry per cached position: the id, and for soft tokens a hash of the embedding, so that
    // prefix reuse never mistakes one image for another.
    std::vector<int32_t> cachedIds_;
    std::vector<uint64_t> cachedKeys_;
    std::vector<float> logits_;
    bool logitsValid_ = false;
    std::optional<std::chrono::steady_clock::time_point> feedStart_;
    Stats stats_;
};

} // namespace ocelle::engine
