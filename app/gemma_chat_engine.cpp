#include "gemma_chat_engine.h"

#include "chat/chat_format.h"
#include "chat/output_parser.h"
#include "engine/engine.h"
#include "tokenizer/vocab.h"

namespace ocelle::app {

GemmaChatEngine::GemmaChatEngine(int contextLength) : contextLength_(contextLength) {}

GemmaChatEngine::~GemmaChatEngine() = default;

LoadedModelFacts GemmaChatEngine::load(const std::string& path) {
    unload();
    std::shared_ptr<engine::Model> model;
    std::unique_ptr<chat::ChatFormat> format;
    try {
        model = engine::Model::load(path);
        if (!model->vocab()) throw EngineError(path + ": the model has no vocabulary");
        format = std::make_unique<chat::ChatFormat>(*model->vocab());
    } catch (const EngineError&) {
        throw;
    } catch (const std::exception& e) {
        // The engine's and the tokenizer's messages already name the file and the problem.
        throw EngineError(e.what());
    }
    engine::SessionOptions options;
    options.contextLength = std::min(contextLength_, model->trainedContextLength());
    auto session = model->createSession(options);

    LoadedModelFacts facts;
    facts.device = model->backendName();
    facts.deviceReason =
        "This build runs models on the CPU; the Vulkan engine path is not connected to the app yet.";
    facts.contextLength = session->contextLength();
    facts.memoryBytes = static_cast<long long>(model->memoryBytes() + session->stats().sessionBytes);

    model_ = std::move(model);
    format_ = std::move(format);
    std::lock_guard lock(sessionMutex_);
    session_ = std::move(session);
    return facts;
}

void GemmaChatEngine::unload() {
    {
        std::lock_guard lock(sessionMutex_);
        session_.reset();
    }
    format_.reset();
    model_.reset();
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
    for (const ChatTurn& turn : request.turns) {
        conversation.messages.push_back({turn.role == ChatTurn::Role::User ? "user" : "model",
                                         {chat::Part::makeText(turn.text)},
                                         {},
                                         {}});
    }
    const chat::Prompt rendered = format_->render(conversation);
    engine::Prompt prompt;
    prompt.ids.assign(rendered.tokens.begin(), rendered.tokens.end());

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
