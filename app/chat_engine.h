// What the app needs from a language model, and nothing more: load a file, turn a conversation
// into streamed reasoning and answer text, stop on request. The shipped app uses GemmaChatEngine
// (inference/engine underneath); tests use scripted engines behind the same interface, so the
// controllers, the worker thread and the batching are tested without a model.
//
// Threads: load(), unload() and generate() run on the engine thread (EngineWorker); cancel() and
// resetCancel() may be called from any thread.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace ocelle::engine {
class Model;
}

namespace ocelle::app {

// A user-facing error: the message names the file or setting and the problem.
class EngineError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Loading stopped because the requester no longer wants the model (LoadProgress returned false).
class LoadCancelled : public EngineError {
public:
    using EngineError::EngineError;
};

// A model served by an OpenAI-compatible server (vLLM, llama.cpp, Ollama, LM Studio, `ocelle-cli
// serve`) instead of a file: RemoteChatEngine talks to it.
struct RemoteModel {
    std::string serverName; // as the user named it, for messages
    std::string baseUrl;    // normalized, e.g. "http://box:8080/v1" (openai_client.h)
    std::string apiKey;     // sent as a Bearer token when not empty
    std::string modelId;    // an id from the server's GET /models
};

// What to load and how.
struct LoadRequest {
    std::optional<RemoteModel> remote; // set: a remote model, and the fields below do not apply
    std::string modelPath;
    std::string projectorPath;   // the paired mmproj file, empty when there is none
    std::string device = "auto"; // "auto", "cpu", "vulkan" or "vulkan:<index or name>" (device_choice.h)
    int contextLength = 4096;    // capped at the model's trained context
};

// The fraction of the load done (0..1), called on the engine thread. Returning false stops the
// load: load() then throws LoadCancelled.
using LoadProgress = std::function<bool(double fraction)>;

// What loading found out about the model; shown next to the file's own header facts.
struct LoadedModelFacts {
    std::string device;        // "CPU", or the Vulkan device's name
    std::string deviceReason;  // why this device, in words for the user
    bool cpuFallback = false;  // a GPU was wanted (automatically or by choice) but the CPU runs it
    int contextLength = 0;     // of the session the engine made
    long long memoryBytes = 0; // weights and cache as the engine reports them
};

// A file a user turn carries into the prompt, placed before the turn's text. Pasted images, camera
// snapshots and microphone recordings are written to files first, so every medium is a path.
struct TurnMedia {
    enum class Kind { Image, Audio, Video, PdfPage };
    Kind kind = Kind::Image;
    std::string path;
    int imageBudget = 280; // soft tokens per image (70, 140, 280, 560, 1120); video frames use 70
    int videoFrames = 32;  // Video: frames sampled evenly over the clip
    int pdfPage = 0;       // PdfPage: 0-based page number

    bool operator==(const TurnMedia&) const = default;
};

struct ChatTurn {
    enum class Role { User, Model };
    Role role = Role::User;
    std::string text;             // the answer only, for model turns (reasoning is never fed back)
    std::vector<TurnMedia> media; // user turns only
};

struct SamplingSettings {
    float temperature = 1.0f;
    int topK = 64;
    float topP = 0.95f;
    float minP = 0.0f;
    float repetitionPenalty = 1.0f;
    unsigned long long seed = 0;
    int maxTokens = 1024; // <= 0: until the context is full
};

struct GenerationRequest {
    std::string systemPrompt;
    bool thinking = false;
    std::vector<ChatTurn> turns; // ends with a user turn
    SamplingSettings sampling;
};

// One streamed piece: reasoning and/or answer text (either may be empty).
struct StreamDelta {
    std::string reasoning;
    std::string answer;
};

struct GenerationOutcome {
    enum class Ending { Finished, MaxTokens, Stopped, ContextFull };
    Ending ending = Ending::Finished;
    std::string message; // for the user, when it did not simply finish
    int promptTokens = 0;
    int generatedTokens = 0;
    double timeToFirstTokenSeconds = -1;
    double tokensPerSecond = 0;
};

class ChatEngine {
public:
    virtual ~ChatEngine() = default;
    // Throws EngineError (LoadCancelled when `progress` returned false). Replaces any model
    // loaded before.
    virtual LoadedModelFacts load(const LoadRequest& request, const LoadProgress& progress) = 0;
    virtual void unload() = 0;
    virtual bool loaded() const = 0;
    // Streams through `onDelta` until the answer ends. Throws EngineError (no model, prompt
    // does not fit, bad settings).
    virtual GenerationOutcome generate(const GenerationRequest& request,
                                       const std::function<void(const StreamDelta&)>& onDelta) = 0;
    // Tokens `text` takes in a prompt (0 without a model). Any thread: the context meter and the
    // context-full policy count on the GUI thread while the engine thread generates.
    virtual int countTokens(const std::string& text) const = 0;
    virtual void cancel() noexcept = 0;
    virtual void resetCancel() noexcept = 0;
    // The loaded model, for the local server to answer with on a session of its own; null without
    // one (and for engines that have none, such as the tests' scripted ones). Any thread.
    virtual std::shared_ptr<engine::Model> sharedModel() const { return nullptr; }
};

} // namespace ocelle::app
