// One loaded Gemma 4 model answering chat completions for the local server: a chat::Conversation
// (from chat::conversationFromJson) whose image and audio parts are encoded here through
// media/media_encoding.h, rendered by engine::promptFromConversation, generated on the model's own
// session and split into reasoning, answer and tool calls by chat::TokenOutputParser. Plain C++
// (no Qt): the server calls it on its worker thread, one request at a time.
#pragma once

#include "chat/chat_format.h"
#include "chat/output_parser.h"
#include "engine/engine.h"
#include "engine/media_prompt.h"

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace ocelle::server {

// A request the model cannot answer as sent (HTTP 400): the message says why; `code` is OpenAI's
// error code when there is one (e.g. "context_length_exceeded").
class RequestError : public std::runtime_error {
public:
    explicit RequestError(const std::string& message, std::string code = {})
        : std::runtime_error(message), code_(std::move(code)) {}
    const std::string& code() const { return code_; }

private:
    std::string code_;
};

struct CompletionOptions {
    engine::SamplerParams sampling;
    int maxTokens = 0;             // <= 0: until a stop token or the end of the context
    std::vector<std::string> stop; // answer text that ends the answer (left out of it)
};

// One streamed piece.
struct CompletionDelta {
    std::string reasoning;
    std::string answer;
    std::vector<chat::ParsedToolCall> toolCalls;
    bool empty() const { return reasoning.empty() && answer.empty() && toolCalls.empty(); }
};

struct CompletionResult {
    enum class Finish { Stop, Length, ToolCalls, Cancelled };
    Finish finish = Finish::Stop;
    int promptTokens = 0;
    int completionTokens = 0;
};

// Media bytes as a request carries them, encoded into a chat part by ServedModel::encode().
struct MediaInput {
    enum class Kind { Image, Audio };
    Kind kind = Kind::Image;
    std::vector<std::uint8_t> bytes;
    std::string format;    // audio: "wav", "mp3", ... (the temporary file's extension)
    int imageBudget = 280; // soft tokens per image
    std::string where;     // "messages[1].content[0]", for error messages
};

// Holds back answer text that may be the start of a stop string, and cuts the answer at the first
// complete one.
class StopMatcher {
public:
    explicit StopMatcher(std::vector<std::string> stops) : stops_(std::move(stops)) {}
    // The text that can be released now; stopped() turns true when a stop string was found.
    std::string push(std::string_view text);
    // The end of the answer: whatever was held back.
    std::string finish();
    bool stopped() const { return stopped_; }

private:
    std::vector<std::string> stops_;
    std::string held_;
    bool stopped_ = false;
};

class ServedModel {
public:
    // Loads the model (ocelle-cli serve). Throws engine::Error naming the file and the problem.
    static std::unique_ptr<ServedModel> load(const std::string& modelPath, const std::string& mmprojPath,
                                             const engine::LoadOptions& options, int contextLength);
    // A model loaded elsewhere (the app's): this makes its own session on it.
    ServedModel(std::shared_ptr<engine::Model> model, std::string modelPath, std::string mmprojPath,
                int contextLength);
    ~ServedModel();

    // The model's name in the API: the file name without ".gguf".
    const std::string& id() const { return id_; }
    int contextLength() const;
    bool hasProjector() const { return !mmprojPath_.empty(); }
    // What the model takes, as llama.cpp's server lists it: "completion", plus "vision" and
    // "audio" when the mmproj has the encoder (and it fits this model).
    std::vector<std::string> capabilities() const;
    // Why images / audio cannot be taken (empty when they can).
    const std::string& visionProblem() const { return media_.visionProblem; }
    const std::string& audioProblem() const { return media_.audioProblem; }

    // The worker thread's calls. encode() throws RequestError for media the model cannot take.
    chat::Part encode(const MediaInput& input);
    // Streams the answer to `onDelta` until it ends or `cancelled` turns true. Throws
    // RequestError (the prompt does not fit, bad sampling values) and engine::Error.
    CompletionResult complete(const chat::Conversation& conversation, const CompletionOptions& options,
                              const std::function<void(const CompletionDelta&)>& onDelta,
                              const std::atomic<bool>& cancelled);
    // Any thread: stops the request whose flag this is, if it is the one running (a prompt being
    // evaluated stops too, not only generation).
    void cancel(const std::atomic<bool>& cancelled);

private:
    void loadEncoders();

    std::shared_ptr<engine::Model> model_;
    std::string modelPath_;
    std::string mmprojPath_;
    std::string id_;
    std::unique_ptr<chat::ChatFormat> format_;
    std::unique_ptr<engine::Session> session_;
    bool encodersLoaded_ = false;
    engine::MediaEncoders media_;
    std::mutex runningMutex_;
    const std::atomic<bool>* running_ = nullptr; // the flag of the request being answered
};

} // namespace ocelle::server
