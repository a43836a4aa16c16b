#include "served_model.h"

#include "audio/audio_encoder.h"
#include "engine/media_prompt.h"
#include "gguf/gguf.h"
#include "media/media_encoding.h"
#include "model/hparams.h"
#include "tokenizer/vocab.h"
#include "vision/vision_encoder.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>

namespace ocelle::server {

std::string StopMatcher::push(std::string_view text) {
    if (stopped_) return {};
    held_ += text;
    if (stops_.empty()) return std::exchange(held_, {});
    // The earliest complete stop string ends the answer.
    size_t cut = std::string::npos;
    for (const std::string& stop : stops_) cut = std::min(cut, held_.find(stop));
    if (cut != std::string::npos) {
        stopped_ = true;
        std::string out = held_.substr(0, cut);
        held_.clear();
        return out;
    }
    // Keep the longest tail that is the beginning of some stop string.
    size_t keep = 0;
    for (const std::string& stop : stops_) {
        for (size_t n = std::min(stop.size() - 1, held_.size()); n > keep; --n) {
            if (held_.compare(held_.size() - n, n, stop, 0, n) == 0) {
                keep = n;
                break;
            }
        }
    }
    std::string out = held_.substr(0, held_.size() - keep);
    held_.erase(0, held_.size() - keep);
    return out;
}

std::string StopMatcher::finish() {
    return stopped_ ? std::string() : std::exchange(held_, {});
}

namespace {

std::string modelIdOf(const std::string& path) {
    std::string name = std::filesystem::path(path).filename().string();
    if (name.size() > 5 && name.ends_with(".gguf")) name.resize(name.size() - 5);
    return name;
}

// FFmpeg reads files: the request's audio goes to a private temporary file for the decode.
class TemporaryFile {
public:
    TemporaryFile(std::span<const std::uint8_t> bytes, const std::string& extension) {
        std::random_device random;
        const std::string name = "ocelle-server-" + std::to_string(random()) + std::to_string(random()) +
                                 "." + (extension.empty() ? std::string("bin") : extension);
        path_ = (std::filesystem::temp_directory_path() / name).string();
        std::ofstream out(path_, std::ios::binary | std::ios::trunc);
        out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
        if (!out) throw std::runtime_error("could not write a temporary file for the audio");
    }
    ~TemporaryFile() {
        std::error_code ignored;
        std::filesystem::remove(path_, ignored);
    }
    const std::string& path() const { return path_; }

private:
    std::string path_;
};

bool safeExtension(const std::string& format) {
    return !format.empty() && format.size() <= 8 && std::all_of(format.begin(), format.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c));
    });
}

} // namespace

std::unique_ptr<ServedModel> ServedModel::load(const std::string& modelPath, const std::string& mmprojPath,
                                               const engine::LoadOptions& options, int contextLength) {
    std::shared_ptr<engine::Model> model = engine::Model::load(modelPath, options);
    if (!model->vocab())
        throw engine::Error(engine::ErrorKind::ModelLoad, modelPath + ": the model has no vocabulary");
    return std::make_unique<ServedModel>(std::move(model), modelPath, mmprojPath, contextLength);
}

ServedModel::ServedModel(std::shared_ptr<engine::Model> model, std::string modelPath, std::string mmprojPath,
                         int contextLength)
    : model_(std::move(model)), modelPath_(std::move(modelPath)), mmprojPath_(std::move(mmprojPath)),
      id_(modelIdOf(modelPath_)) {
    format_ = std::make_unique<chat::ChatFormat>(*model_->vocab());
    engine::SessionOptions sessionOptions;
    sessionOptions.contextLength =
        contextLength > 0 ? std::min(contextLength, model_->trainedContextLength()) : 0;
    session_ = model_->createSession(sessionOptions);
    // The encoders now, so that /v1/models can say what the model takes and an unusable mmproj
    // is reported at start rather than at the first image.
    loadEncoders();
}

std::vector<std::string> ServedModel::capabilities() const {
    std::vector<std::string> out{"completion"};
    if (media_.vision) out.push_back("vision");
    if (media_.audio) out.push_back("audio");
    return out;
}

ServedModel::~ServedModel() = default;

int ServedModel::contextLength() const {
    return session_->contextLength();
}

void ServedModel::loadEncoders() {
    if (encodersLoaded_) return;
    encodersLoaded_ = true;
    if (mmprojPath_.empty()) {
        media_.visionProblem = media_.audioProblem =
            "the server was started without an mmproj file, so this model takes text only";
        return;
    }
    media_ = engine::loadMediaEncoders(mmprojPath_, *model_, modelPath_);
}

chat::Part ServedModel::encode(const MediaInput& input) {
    loadEncoders();
    try {
        if (input.kind == MediaInput::Kind::Image) {
            if (!media_.vision)
                throw RequestError(input.where + ": this model cannot see images: " + media_.visionProblem);
            const media::RgbImage image = media::decodeImage(input.bytes, input.where);
            return media::imagePart(media::encodeImage(*media_.vision, image, input.imageBudget));
        }
        if (!media_.audio)
            throw RequestError(input.where + ": this model cannot hear audio: " + media_.audioProblem);
        if (!safeExtension(input.format))
            throw RequestError(input.where + ".format must be a short name such as \"wav\" or \"mp3\"");
        const TemporaryFile file(input.bytes, input.format);
        try {
            return media::encodeAudioPart(*media_.audio, file.path());
        } catch (const std::exception& e) {
            // The decoder names the temporary file; the client knows the part.
            throw RequestError(input.where + ": the " + input.format + " audio could not be used (" +
                               e.what() + ")");
        }
    } catch (const RequestError&) {
        throw;
    } catch (const std::exception& e) {
        throw RequestError(e.what()); // media errors name the part (decodeImage's nameForErrors)
    }
}

void ServedModel::cancel(const std::atomic<bool>& cancelled) {
    std::lock_guard lock(runningMutex_);
    if (running_ == &cancelled) session_->cancel();
}

CompletionResult ServedModel::complete(const chat::Conversation& conversation,
                                       const CompletionOptions& options,
                                       const std::function<void(const CompletionDelta&)>& onDelta,
                                       const std::atomic<bool>& cancelled) {
    engine::GenerateOptions generate;
    generate.sampling = options.sampling;
    generate.stop.maxTokens = options.maxTokens;
    if (const std::string problem = generate.sampling.validate(); !problem.empty())
        throw RequestError(problem);

    engine::Prompt prompt;
    try {
        prompt = engine::promptFromConversation(*format_, conversation, model_->embeddingLength(),
                                                media_.imagesBidirectional);
    } catch (const chat::Error& e) {
        throw RequestError(e.what());
    }
    CompletionResult result;
    result.promptTokens = int(prompt.ids.size());
    if (result.promptTokens >= session_->contextLength()) {
        throw RequestError("This model's context is " + std::to_string(session_->contextLength()) +
                               " tokens, but the messages take " + std::to_string(result.promptTokens) +
                               " tokens (and the answer needs room too). Shorten the messages.",
                           "context_length_exceeded");
    }

    {
        std::lock_guard lock(runningMutex_);
        running_ = &cancelled;
        session_->resetCancel();
    }
    struct NotRunning {
        ServedModel* self;
        ~NotRunning() {
            std::lock_guard lock(self->runningMutex_);
            self->running_ = nullptr;
        }
    } notRunning{this};
    // A stop that came before the flag was registered is honoured here.
    if (cancelled.load()) {
        result.finish = CompletionResult::Finish::Cancelled;
        return result;
    }

    const engine::FeedResult fed = session_->feed(prompt);
    if (fed.cancelled) {
        result.finish = CompletionResult::Finish::Cancelled;
        return result;
    }

    chat::TokenOutputParser parser(*model_->vocab());
    StopMatcher stops(options.stop);
    bool toolCalls = false;
    auto forward = [&](const chat::OutputDelta& delta) {
        CompletionDelta out;
        out.reasoning = delta.reasoning;
        out.answer = stops.push(delta.answer);
        if (!stops.stopped()) out.toolCalls = delta.toolCalls;
        toolCalls = toolCalls || !out.toolCalls.empty();
        if (!out.empty()) onDelta(out);
    };
    const engine::GenerateResult generated =
        session_->generate(generate, [&](const engine::TokenEvent& event) {
            if (event.id >= 0) forward(parser.push(event.id));
            return !stops.stopped() && !cancelled.load();
        });
    forward(parser.finish());
    if (std::string tail = stops.finish(); !tail.empty()) {
        CompletionDelta out;
        out.answer = std::move(tail);
        onDelta(out);
    }

    result.completionTokens = session_->stats().generatedTokens;
    switch (generated.reason) {
    case engine::StopReason::StopToken:
        result.finish = CompletionResult::Finish::Stop;
        break;
    case engine::StopReason::MaxTokens:
    case engine::StopReason::ContextFull:
        result.finish = CompletionResult::Finish::Length;
        break;
    case engine::StopReason::Cancelled:
    case engine::StopReason::Callback:
        result.finish =
            stops.stopped() ? CompletionResult::Finish::Stop : CompletionResult::Finish::Cancelled;
        break;
    }
    if (toolCalls && result.finish == CompletionResult::Finish::Stop)
        result.finish = CompletionResult::Finish::ToolCalls;
    return result;
}

} // namespace ocelle::server
