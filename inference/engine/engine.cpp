#include "engine/engine.h"

#include <algorithm>
#include <cstring>

namespace ocelle::engine {

namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

// Cache keys: a text position is its id; a soft-token position is a hash of its embedding row
// (and placeholder id) with the top bit set, so it never equals a text key.
uint64_t softTokenKey(int32_t placeholder, std::span<const float> row) {
    uint64_t hash = 1469598103934665603ull; // FNV-1a
    auto mix = [&hash](const void* data, size_t size) {
        const auto* bytes = static_cast<const unsigned char*>(data);
        for (size_t i = 0; i < size; ++i) hash = (hash ^ bytes[i]) * 1099511628211ull;
    };
    mix(&placeholder, sizeof placeholder);
    mix(row.data(), row.size_bytes());
    return hash | (uint64_t(1) << 63);
}

uint64_t textKey(int32_t id) {
    return uint64_t(uint32_t(id));
}

} // namespace

const char* stopReasonName(StopReason reason) {
    switch (reason) {
    case StopReason::StopToken:
        return "stop_token";
    case StopReason::MaxTokens:
        return "max_tokens";
    case StopReason::ContextFull:
        return "context_full";
    case StopReason::Cancelled:
        return "cancelled";
    case StopReason::Callback:
        return "callback";
    }
    return "unknown";
}

// ---- Model ----

Model::Model(std::unique_ptr<Backend> backend, TextDecoderFactory textDecoders,
             std::unordered_set<int32_t> stopIds)
    : backend_(std::move(backend)), textDecoders_(std::move(textDecoders)), stopIds_(std::move(stopIds)) {
    if (!backend_) throw Error(ErrorKind::InvalidArgument, "a model needs a backend");
    if (!textDecoders_) throw Error(ErrorKind::InvalidArgument, "a model needs a text decoder");
}

Model::~Model() = default;

int Model::vocabSize() const {
    return backend_->vocabSize();
}
int Model::embeddingLength() const {
    return backend_->embeddingLength();
}
int Model::trainedContextLength() const {
    return backend_->trainedContextLength();
}
size_t Model::memoryBytes() const {
    return backend_->memoryBytes();
}
std::string Model::backendName() const {
    return backend_->name();
}

std::unique_ptr<Session> Model::createSession(const SessionOptions& options) {
    SessionOptions resolved = options;
    const int trained = backend_->trainedContextLength();
    if (resolved.contextLength < 0)
        throw Error(ErrorKind::InvalidArgument, "the context length must not be negative");
    if (resolved.contextLength == 0)
        resolved.contextLength = trained > 0 ? std::min(trained, SessionOptions::kDefaultContextLength)
                                             : SessionOptions::kDefaultContextLength;
    if (trained > 0 && resolved.contextLength > trained)
        throw Error(ErrorKind::InvalidArgument, "a context of " + std::to_string(resolved.contextLength) +
                                                    " tokens is longer than the model's " +
                                                    std::to_string(trained));
    return std::unique_ptr<Session>(new Session(shared_from_this(), backend_->createSession(resolved)));
}

// ---- Session ----

Session::Session(std::shared_ptr<Model> model, std::unique_ptr<BackendSession> backend)
    : model_(std::move(model)), backend_(std::move(backend)) {
    stats_.modelBytes = model_->memoryBytes();
    stats_.sessionBytes = backend_->memoryBytes();
}

Session::~Session() = default;

int Session::position() const {
    return backend_->position();
}
int Session::contextLength() const {
    return backend_->contextLength();
}

std::span<const float> Session::lastLogits() const {
    if (!logitsValid_) return {};
    return logits_;
}

void Session::clear() {
    backend_->truncate(0);
    cachedIds_.clear();
    cachedKeys_.clear();
    logitsValid_ = false;
}

void Session::syncCacheToBackend() {
    const auto kept = size_t(std::max(0, backend_->position()));
    if (kept < cachedIds_.size()) {
        cachedIds_.resize(kept);
        cachedKeys_.resize(kept);
    }
}

FeedResult Session::feed(const Prompt& prompt) {
    const size_t n = prompt.ids.size();
    if (n == 0) throw Error(ErrorKind::InvalidArgument, "the prompt is empty");
    const int vocab = model_->vocabSize();
    for (int32_t id : prompt.ids)
        if (id < 0 || id >= vocab)
            throw Error(ErrorKind::InvalidArgument, "prompt token id " + std::to_string(id) +
                                                        " is outside the vocabulary (0.." +
                                                        std::to_string(vocab - 1) + ")");
    const auto width = size_t(model_->embeddingLength());
    int previousEnd = 0;
    for (const SoftTokenSpan& span : prompt.softTokens) {
        if (span.count <= 0 || span.first < previousEnd || size_t(span.first) + size_t(span.count) > n)
            throw Error(ErrorKind::InvalidArgument,
                        "soft tokens at " + std::to_string(span.first) + "+" + std::to_string(span.count) +
                            " are empty, overlapping, out of order or outside the prompt");
        if (span.embeddings.size() != size_t(span.count) * width)
            throw Error(ErrorKind::InvalidArgument, "soft tokens at " + std::to_string(span.first) +
                                                        " carry " + std::to_string(span.embeddings.size()) +
                                                        " floats, expected " +
                                                        std::to_string(size_t(span.count) * width));
        previousEnd = span.first + span.count;
    }
    if (n > size_t(contextLength()))
        throw Error(ErrorKind::ContextFull,
                    "the prompt has " + std::to_string(n) + " tokens but the context holds " +
                        std::to_string(contextLength()) + "; drop the oldest turns or use a longer context");

    stats_.promptTokens = int(n);
    stats_.reusedTokens = 0;
    stats_.prefillTokens = 0;
    stats_.prefillSeconds = 0;
    stats_.timeToFirstTokenSeconds = -1;
    feedStart_ = Clock::now();
    logitsValid_ = false;
    FeedResult result;
    if (cancelRequested()) {
        result.cancelled = true;
        return result;
    }

    std::vector<uint64_t> keys(n);
    for (size_t i = 0; i < n; ++i) keys[i] = textKey(prompt.ids[i]);
    for (const SoftTokenSpan& span : prompt.softTokens)
        for (int j = 0; j < span.count; ++j) {
            const size_t at = size_t(span.first + j);
            keys[at] =
                softTokenKey(prompt.ids[at], std::span(span.embeddings).subspan(size_t(j) * width, width));
        }

    // Reuse the longest common prefix, but always evaluate at least the last token: its logits are
    // what generation starts from.
    size_t common = 0;
    while (common < cachedKeys_.size() && common < n && cachedKeys_[common] == keys[common]) ++common;
    if (common == n) --common;
    if (common < cachedKeys_.size() || size_t(backend_->position()) != cachedKeys_.size()) {
        if (!backend_->truncate(int(common))) {
            backend_->truncate(0);
            common = 0;
        }
        cachedIds_.resize(common);
        cachedKeys_.resize(common);
    }

    // Soft tokens of the part still to evaluate, with positions relative to its start.
    std::vector<SoftTokenView> views;
    for (const SoftTokenSpan& span : prompt.softTokens) {
        const size_t end = size_t(span.first + span.count);
        if (end <= common) continue;
        const size_t skip = common > size_t(span.first) ? common - size_t(span.first) : 0;
        SoftTokenView view;
        view.first = int(size_t(span.first) + skip - common);
        view.count = int(size_t(span.count) - skip);
        view.embeddings = std::span(span.embeddings).subspan(skip * width, size_t(view.count) * width);
        view.bidirectional = span.bidirectional;
        views.push_back(view);
    }

    const auto suffix = std::span(prompt.ids).subspan(common);
    const auto start = Clock::now();
    bool complete = false;
    try {
        complete = backend_->evaluate(suffix, views, cancel_, logits_);
    } catch (...) {
        syncCacheToBackend(); // whatever the backend kept, the ids must describe it
        throw;
    }
    stats_.prefillSeconds = secondsSince(start);

    const auto reached = size_t(std::max(0, backend_->position()));
    const size_t evaluatedEnd = std::min(reached, n);
    for (size_t i = cachedIds_.size(); i < evaluatedEnd; ++i) {
        cachedIds_.push_back(prompt.ids[i]);
        cachedKeys_.push_back(keys[i]);
    }
    syncCacheToBackend();
    stats_.reusedTokens = int(common);
    stats_.prefillTokens = int(evaluatedEnd > common ? evaluatedEnd - common : 0);
    stats_.sessionBytes = backend_->memoryBytes();
    result.reused = int(common);
    result.evaluated = stats_.prefillTokens;
    result.cancelled = !complete;
    logitsValid_ = complete;
    if (complete && logits_.size() != size_t(vocab))
        throw Error(ErrorKind::InvalidState, "the backend returned " + std::to_string(logits_.size()) +
                                                 " logits for a vocabulary of " + std::to_string(vocab));
    return result;
}

GenerateResult Session::generate(const GenerateOptions& options, const TokenCallback& onToken) {
    if (std::string problem = options.sampling.validate(); !problem.empty())
        throw Error(ErrorKind::InvalidArgument, "sampling: " + problem);
    GenerateResult result;
    stats_.generatedTokens = 0;
    stats_.decodedTokens = 0;
    stats_.decodeSeconds = 0;
    if (cancelRequested()) {
        result.reason = StopReason::Cancelled;
        result.message = "generation was cancelled";
        return result;
    }
    if (!logitsValid_) throw Error(ErrorKind::InvalidState, "nothing to generate from: feed a prompt first");

    Sampler sampler(options.sampling);
    const std::unordered_set<int32_t>& stopIds =
        options.stop.stopIds.empty() ? model_->stopTokenIds() : options.stop.stopIds;
    std::unique_ptr<TextDecoder> decoder = model_->newTextDecoder();
    const auto generateStart = Clock::now();

    for (int index = 0;; ++index) {
        if (cancelRequested()) {
            result.reason = StopReason::Cancelled;
            break;
        }
        const int32_t id = sampler.sample(logits_);
        logitsValid_ = false;
        if (stopIds.count(id)) {
            result.reason = StopReason::StopToken;
            result.stopToken = id;
            break;
        }
        sampler.accept(id);
        const std::string text = decoder->push(id);
        result.tokens.push_back(id);
        result.text += text;
        stats_.generatedTokens = index + 1;
        if (index == 0) stats_.timeToFirstTokenSeconds = secondsSince(feedStart_.value_or(generateStart));
        if (onToken && !onToken(TokenEvent{id, text, index})) {
            result.reason = StopReason::Callback;
            break;
        }
        if (options.stop.maxTokens > 0 && int(result.tokens.size()) >= options.stop.maxTokens) {
            result.reason = StopReason::MaxTokens;
            break;
        }
        if (backend_->position() >= backend_->contextLength()) {
            result.reason = StopReason::ContextFull;
            result.message = "the context is full (" + std::to_string(backend_->contextLength()) +
                             " tokens); start a new conversation or drop the oldest turns";
            break;
        }
        const auto start = Clock::now();
        bool complete = false;
        try {
            complete = backend_->evaluate(std::span(&id, 1), {}, cancel_, logits_);
        } catch (...) {
            syncCacheToBackend();
            throw;
        }
        stats_.decodeSeconds += secondsSince(start);
        if (!complete) {
            syncCacheToBackend();
            result.reason = StopReason::Cancelled;
            break;
        }
        cachedIds_.push_back(id);
        cachedKeys_.push_back(textKey(id));
        logitsValid_ = true;
        stats_.decodedTokens += 1;
    }
    if (result.reason == StopReason::Cancelled) result.message = "generation was cancelled";

    const std::string tail = decoder->finish();
    if (!tail.empty()) {
        result.text += tail;
        if (onToken) onToken(TokenEvent{-1, tail, int(result.tokens.size())});
    }
    feedStart_.reset();
    stats_.sessionBytes = backend_->memoryBytes();
    return result;
}

} // namespace ocelle::engine
