#include "gemma_chat_engine.h"

#include "audio/audio_encoder.h"
#include "chat/chat_format.h"
#include "chat/output_parser.h"
#include "cpu/matmul.h"
#include "device_choice.h"
#include "engine/engine.h"
#include "engine/media_prompt.h"
#include "gguf/gguf.h"
#include "media/media_encoding.h"
#include "media/pdf_document.h"
#include "model/hparams.h"
#include "tokenizer/vocab.h"
#include "vision/vision_encoder.h"

namespace ocelle::app {

GemmaChatEngine::GemmaChatEngine() = default;

GemmaChatEngine::~GemmaChatEngine() = default;

int GemmaChatEngine::countTokens(const std::string& text) const {
    std::shared_ptr<const engine::Model> model;
    {
        std::lock_guard lock(sessionMutex_);
        model = countingModel_;
    }
    // The vocabulary is immutable once loaded, so tokenizing beside a running generation is safe.
    if (!model || !model->vocab()) return 0;
    return static_cast<int>(model->vocab()->tokenize(text, false, false).size());
}

namespace {

struct LoadedOn {
    std::shared_ptr<engine::Model> model;
    std::unique_ptr<engine::Session> session;
};

// Loads the model and makes its session with these options; engine errors become EngineError
// (LoadCancelled for a stop through the progress callback).
LoadedOn loadOn(const std::string& path, const engine::LoadOptions& options, int contextLength) {
    try {
        LoadedOn loaded;
        loaded.model = engine::Model::load(path, options);
        if (!loaded.model->vocab()) throw EngineError(path + ": the model has no vocabulary");
        engine::SessionOptions sessionOptions;
        sessionOptions.contextLength =
            std::max(1, std::min(contextLength, loaded.model->trainedContextLength()));
        loaded.session = loaded.model->createSession(sessionOptions);
        return loaded;
    } catch (const EngineError&) {
        throw;
    } catch (const engine::Error& e) {
        if (e.kind() == engine::ErrorKind::LoadCancelled) throw LoadCancelled(e.what());
        throw EngineError(e.what());
    } catch (const std::exception& e) {
        // The engine's messages already name the file and the problem.
        throw EngineError(e.what());
    }
}

// "no usable GPU (...), using the CPU" -> "No usable GPU (...), using the CPU."
std::string sentence(std::string text) {
    if (!text.empty() && text[0] >= 'a' && text[0] <= 'z') text[0] = char(text[0] - 'a' + 'A');
    if (!text.empty() && text.back() != '.') text += '.';
    return text;
}

} // namespace

LoadedModelFacts GemmaChatEngine::load(const LoadRequest& request, const LoadProgress& progress) {
    unload();
    engine::LoadOptions options;
    applyDeviceChoice(request.device, options);
    if (progress) {
        options.progress = [&progress](uint64_t done, uint64_t total) {
            return progress(total > 0 ? double(done) / double(total) : 1.0);
        };
    }
    // Resolve the device once so that the load uses exactly the device reported here.
    engine::BackendChoice choice;
    try {
        choice = engine::chooseBackend(options);
    } catch (const std::exception& e) {
        throw EngineError(e.what()); // e.g. Vulkan requested but no usable device
    }
    LoadedModelFacts facts;
    LoadedOn loaded;
    if (choice.backend == engine::BackendKind::Vulkan) {
        engine::LoadOptions onDevice = options;
        onDevice.backend = engine::BackendKind::Vulkan;
        onDevice.device = std::to_string(choice.deviceIndex);
        try {
            loaded = loadOn(request.modelPath, onDevice, request.contextLength);
            facts.device = choice.device;
            facts.deviceReason = sentence(choice.reason);
        } catch (const LoadCancelled&) {
            throw;
        } catch (const EngineError& e) {
            // A model that does not fit the chosen GPU still runs on the CPU; only an explicit
            // Vulkan choice makes the failure final.
            if (options.backend == engine::BackendKind::Vulkan) throw;
            facts.cpuFallback = true;
            facts.deviceReason =
                choice.device + " could not load the model (" + e.what() + "), so the CPU runs it.";
        }
    } else {
        facts.cpuFallback = options.backend != engine::BackendKind::Cpu;
        facts.deviceReason = sentence(choice.reason);
    }
    if (!loaded.model) {
        // Q4_0/Q8_0 products with 8-bit activations, as llama.cpp computes them (about twice the
        // prefill speed; docs/benchmarks.md says why this is the app's default).
        // OCELLE_CPU_ACTIVATIONS=exact keeps the exact fp32 products.
        cpu::setDefaultActivationPrecision(cpu::ActivationPrecision::Q8);
        engine::LoadOptions onCpu = options;
        onCpu.backend = engine::BackendKind::Cpu;
        onCpu.device.clear();
        loaded = loadOn(request.modelPath, onCpu, request.contextLength);
        facts.device = "CPU";
    }
    auto format = std::make_unique<chat::ChatFormat>(*loaded.model->vocab());
    facts.contextLength = loaded.session->contextLength();
    facts.memoryBytes =
        static_cast<long long>(loaded.model->memoryBytes() + loaded.session->stats().sessionBytes);

    model_ = std::move(loaded.model);
    format_ = std::move(format);
    modelPath_ = request.modelPath;
    projectorPath_ = request.projectorPath;
    std::lock_guard lock(sessionMutex_);
    session_ = std::move(loaded.session);
    countingModel_ = model_;
    return facts;
}

void GemmaChatEngine::unload() {
    {
        std::lock_guard lock(sessionMutex_);
        session_.reset();
        countingModel_.reset();
    }
    format_.reset();
    model_.reset();
    media_.reset();
    encodersLoaded_ = false;
    encoded_.clear();
}

void GemmaChatEngine::loadEncoders() {
    if (encodersLoaded_) return;
    encodersLoaded_ = true;
    if (projectorPath_.empty()) {
        media_ = std::make_unique<engine::MediaEncoders>();
        media_->visionProblem = media_->audioProblem =
            "the model has no mmproj file next to it, so it takes text only";
        return;
    }
    media_ = std::make_unique<engine::MediaEncoders>(
        engine::loadMediaEncoders(projectorPath_, *model_, modelPath_));
}

const std::vector<chat::Part>& GemmaChatEngine::encode(const TurnMedia& item) {
    const std::string key = std::to_string(int(item.kind)) + ':' + std::to_string(item.imageBudget) + ':' +
                            std::to_string(item.videoFrames) + ':' + std::to_string(item.pdfPage) + ':' +
                            item.path;
    if (auto found = encoded_.find(key); found != encoded_.end()) return found->second;
    loadEncoders();
    const std::string& name = item.path;
    std::vector<chat::Part> parts;
    if (item.kind == TurnMedia::Kind::Audio) {
        if (!media_->audio) throw EngineError(name + " cannot be heard: " + media_->audioProblem);
        parts.push_back(media::encodeAudioPart(*media_->audio, item.path));
    } else if (!media_->vision) {
        throw EngineError(name + " cannot be seen: " + media_->visionProblem);
    } else if (item.kind == TurnMedia::Kind::Image) {
        parts.push_back(media::encodeImagePart(*media_->vision, item.path, item.imageBudget));
    } else if (item.kind == TurnMedia::Kind::Video) {
        media::FrameSampling sampling;
        sampling.frames = item.videoFrames;
        parts.push_back(media::encodeVideoPart(*media_->vision, item.path, sampling, {}, item.imageBudget));
    } else {
        const media::PdfDocument document(item.path);
        media::PdfPageSelection page;
        page.pageCount = document.pageCount();
        page.pages = {item.pdfPage};
        parts = media::encodePdfPages(*media_->vision, document, page, item.imageBudget);
    }
    if (encoded_.size() >= 64) encoded_.clear(); // keep memory bounded in long conversations
    return encoded_.emplace(key, std::move(parts)).first->second;
}

std::shared_ptr<engine::Model> GemmaChatEngine::sharedModel() const {
    std::lock_guard lock(sessionMutex_);
    return countingModel_;
}

bool GemmaChatEngine::loaded() const {
    std::lock_guard lock(sessionMutex_);
    return session_ != nullptr;
}

void GemmaChatEngine::cancel() noexcept {
    cancelled_.store(true);
    std::lock_guard lock(sessionMutex_);
    if (session_) session_->cancel();
}

void GemmaChatEngine::resetCancel() noexcept {
    cancelled_.store(false);
    std::lock_guard lock(sessionMutex_);
    if (session_) session_->resetCancel();
}

GenerationOutcome GemmaChatEngine::generate(const GenerationRequest& request,
                                            const std::function<void(const StreamDelta&)>& onDelta) {
    if (!session_ || !format_) throw EngineError("No model is loaded.");
    // A stop pressed before this request reached the engine thread is honoured here.
    if (cancelled_.load()) session_->cancel();

    chat::Conversation conversation;
    conversation.thinking = request.thinking;
    if (!request.systemPrompt.empty()) {
        conversation.messages.push_back({"system", {chat::Part::makeText(request.systemPrompt)}, {}, {}});
    }
    // Media first, then the text (the order Gemma 4 was tuned with).
    engine::Prompt prompt;
    try {
        for (const ChatTurn& turn : request.turns) {
            std::vector<chat::Part> parts;
            for (const TurnMedia& item : turn.media) {
                const std::vector<chat::Part>& encoded = encode(item);
                parts.insert(parts.end(), encoded.begin(), encoded.end());
            }
            if (!turn.text.empty() || parts.empty()) parts.push_back(chat::Part::makeText(turn.text));
            conversation.messages.push_back(
                {turn.role == ChatTurn::Role::User ? "user" : "model", std::move(parts), {}, {}});
        }
        prompt = engine::promptFromConversation(*format_, conversation, model_->embeddingLength(),
                                                media_ && media_->imagesBidirectional);
    } catch (const EngineError&) {
        throw;
    } catch (const std::exception& e) {
        throw EngineError(e.what()); // media errors name the file and the problem
    }

    GenerationOutcome outcome;
    try {
        const engine::FeedResult fed = session_->feed(prompt);
        if (fed.cancelled) {
            outcome.ending = GenerationOutcome::Ending::Stopped;
            outcome.message = "Stopped before the answer began.";
            outcome.promptTokens = static_cast<int>(prompt.ids.size());
            return outcome;
        }
        engine::GenerateOptions options;
        options.sampling.temperature = request.sampling.temperature;
        options.sampling.topK = request.sampling.topK;
        options.sampling.topP = request.sampling.topP;
        options.sampling.minP = request.sampling.minP;
        options.sampling.repetitionPenalty = request.sampling.repetitionPenalty;
        options.sampling.seed = request.sampling.seed;
        options.stop.maxTokens = request.sampling.maxTokens;
        if (const std::string problem = options.sampling.validate(); !problem.empty()) {
            throw EngineError("Sampling settings: " + problem);
        }

        chat::TokenOutputParser parser(*model_->vocab());
        auto forward = [&onDelta](const chat::OutputDelta& delta) {
            if (!delta.reasoning.empty() || !delta.answer.empty()) onDelta({delta.reasoning, delta.answer});
        };
        const engine::GenerateResult result =
            session_->generate(options, [&](const engine::TokenEvent& event) {
                if (event.id >= 0) forward(parser.push(event.id));
                return !cancelled_.load();
            });
        forward(parser.finish());

        switch (result.reason) {
        case engine::StopReason::StopToken:
            outcome.ending = GenerationOutcome::Ending::Finished;
            break;
        case engine::StopReason::MaxTokens:
            outcome.ending = GenerationOutcome::Ending::MaxTokens;
            outcome.message = "Stopped at the maximum answer length.";
            break;
        case engine::StopReason::ContextFull:
            outcome.ending = GenerationOutcome::Ending::ContextFull;
            outcome.message = result.message.empty() ? "The context is full." : result.message;
            break;
        case engine::StopReason::Cancelled:
        case engine::StopReason::Callback:
            outcome.ending = GenerationOutcome::Ending::Stopped;
            outcome.message = "Stopped.";
            break;
        }
    } catch (const engine::Error& e) {
        throw EngineError(e.what());
    }
    const engine::Stats& stats = session_->stats();
    outcome.promptTokens = stats.promptTokens;
    outcome.generatedTokens = stats.generatedTokens;
    outcome.timeToFirstTokenSeconds = stats.timeToFirstTokenSeconds;
    outcome.tokensPerSecond = stats.decodeTokensPerSecond();
    return outcome;
}

} // namespace ocelle::app
