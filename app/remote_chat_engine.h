// A ChatEngine whose model runs on an OpenAI-compatible server (issue 9): "loading" checks that the
// server answers GET /models with the model in it; generate() POSTs /chat/completions and streams
// the server-sent events back as deltas (reasoning_content to the reasoning, usage to the stats).
//
// Threads: generate() is called on the engine thread and must block until the answer ends, so the
// HTTP exchange runs on a network thread of its own (QNetworkAccessManager); received bytes reach
// the engine thread through a mutex-guarded buffer, where they are parsed incrementally. A nested
// event loop on the engine thread is avoided on purpose: it would run queued engine requests in the
// middle of a generation.
//
// Nothing is swallowed: an unreachable server, an HTTP error (with the server's own message), no
// connection within the connect timeout, silence longer than the idle timeout between chunks, and
// a connection that breaks mid-answer all throw EngineError; Stop (cancel()) aborts the request.
// What arrived before a failure has already been delivered through onDelta, so it is kept.
#pragma once

#include "chat_engine.h"

#include <QByteArray>
#include <QThread>
#include <QUrl>
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>

class QNetworkAccessManager;

namespace ocelle::app {

class RemoteChatEngine : public ChatEngine {
public:
    struct Timeouts {
        // From starting a request to having sent it (TCP and TLS connect included).
        std::chrono::milliseconds connect{15'000};
        // The longest silence once the request is sent: before the first chunk (the server reads
        // the prompt then) and between chunks.
        std::chrono::milliseconds idle{120'000};
    };

    RemoteChatEngine();
    ~RemoteChatEngine() override;

    void setTimeouts(const Timeouts& timeouts) { timeouts_ = timeouts; }
    // Streamed answers (the default) or whole ones ("stream": false), for servers that do not stream.
    void setStreaming(bool streaming) { streaming_ = streaming; }

    LoadedModelFacts load(const LoadRequest& request, const LoadProgress& progress) override;
    void unload() override;
    bool loaded() const override { return loaded_.load(); }
    GenerationOutcome generate(const GenerationRequest& request,
                               const std::function<void(const StreamDelta&)>& onDelta) override;
    // The server's tokenizer is not reachable through the OpenAI API: 0 (unknown). The exact
    // counts arrive with each answer's usage.
    int countTokens(const std::string&) const override { return 0; }
    void cancel() noexcept override;
    void resetCancel() noexcept override { cancelled_.store(false); }

    struct Exchange; // one HTTP request and what has arrived of its response

private:
    class Finisher;
    enum class Wait { Data, Finished, Cancelled };
    std::shared_ptr<Exchange> start(const QUrl& url, const QByteArray& postBody, bool streaming);
    // Waits for bytes or the end of the exchange, taking them into `bytes`. Throws EngineError on a
    // timeout. `keepGoing` false stops the wait like a cancellation.
    Wait waitFor(Exchange& exchange, QByteArray* bytes, const std::function<bool()>& keepGoing = {});
    void abort(const std::shared_ptr<Exchange>& exchange);
    // Throws EngineError for an exchange that ended in an HTTP or network error.
    void throwIfFailed(Exchange& exchange, const QByteArray& body, bool gotAnswer) const;
    std::string where() const; // "box (http://box:8080/v1)"

    QThread networkThread_;
    QNetworkAccessManager* network_ = nullptr; // lives on networkThread_
    Timeouts timeouts_;
    bool streaming_ = true;
    std::optional<RemoteModel> model_; // engine thread only
    std::atomic<bool> loaded_{false};
    std::atomic<bool> cancelled_{false};
    std::mutex currentMutex_;
    std::shared_ptr<Exchange> current_; // the request in flight, for cancel()
};

} // namespace ocelle::app
