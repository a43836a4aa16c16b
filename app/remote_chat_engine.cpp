#include "remote_chat_engine.h"

#include "openai_client.h"
#include "remote_media.h"

#include <QCoreApplication>
#include <QJsonDocument>
#include <QMetaObject>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QNetworkRequest>
#include <condition_variable>

namespace ocelle::app {

namespace {
using Clock = std::chrono::steady_clock;

QString tr(const char* text) {
    return QCoreApplication::translate("RemoteServer", text);
}

double secondsOf(std::chrono::milliseconds duration) {
    return std::chrono::duration<double>(duration).count();
}
} // namespace

struct RemoteChatEngine::Exchange {
    std::mutex mutex;
    std::condition_variable changed;
    QByteArray received; // arrived, not yet taken by the engine thread
    bool requestSent = false;
    bool finished = false;
    int status = 0; // HTTP status once the headers arrived
    QByteArray contentType;
    QNetworkReply::NetworkError error = QNetworkReply::NoError;
    QString errorString;
    Clock::time_point started = Clock::now();
    Clock::time_point lastActivity = started;
    QNetworkReply* reply = nullptr; // network thread only

    void update(const std::function<void()>& change) {
        {
            std::lock_guard lock(mutex);
            change();
            lastActivity = Clock::now();
        }
        changed.notify_all();
    }
};

RemoteChatEngine::RemoteChatEngine() {
    network_ = new QNetworkAccessManager;
    network_->moveToThread(&networkThread_);
    QObject::connect(&networkThread_, &QThread::finished, network_, &QObject::deleteLater);
    networkThread_.setObjectName(QStringLiteral("ocelle-remote"));
    networkThread_.start();
}

RemoteChatEngine::~RemoteChatEngine() {
    cancel();
    std::shared_ptr<Exchange> exchange;
    {
        std::lock_guard lock(currentMutex_);
        exchange = current_;
    }
    if (exchange) abort(exchange);
    networkThread_.quit();
    networkThread_.wait();
}

std::string RemoteChatEngine::where() const {
    if (!model_) return {};
    return model_->serverName + " (" + model_->baseUrl + ")";
}

void RemoteChatEngine::cancel() noexcept {
    cancelled_.store(true);
    std::shared_ptr<Exchange> exchange;
    {
        std::lock_guard lock(currentMutex_);
        exchange = current_;
    }
    if (!exchange) return;
    // Taking the exchange's lock orders this after a waiter's check of the flag: no lost wake-up.
    { std::lock_guard lock(exchange->mutex); }
    exchange->changed.notify_all();
}

std::shared_ptr<RemoteChatEngine::Exchange>
RemoteChatEngine::start(const QUrl& url, const QByteArray& postBody, bool streaming) {
    auto exchange = std::make_shared<Exchange>();
    QNetworkRequest request(url);
    if (!model_->apiKey.empty())
        request.setRawHeader("Authorization", "Bearer " + QByteArray::fromStdString(model_->apiKey));
    request.setRawHeader("Accept", streaming ? "text/event-stream" : "application/json");
    if (!postBody.isNull())
        request.setHeader(QNetworkRequest::ContentTypeHeader, QByteArrayLiteral("application/json"));
    QMetaObject::invokeMethod(
        network_,
        [network = network_, exchange, request, postBody] {
            QNetworkReply* reply =
                postBody.isNull() ? network->get(request) : network->post(request, postBody);
            exchange->reply = reply;
            QObject::connect(reply, &QNetworkReply::requestSent, reply,
                             [exchange] { exchange->update([&] { exchange->requestSent = true; }); });
            QObject::connect(reply, &QNetworkReply::metaDataChanged, reply, [exchange, reply] {
                exchange->update([&] {
                    exchange->requestSent = true; // an answer implies the request went out
                    exchange->status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
                    exchange->contentType = reply->header(QNetworkRequest::ContentTypeHeader).toByteArray();
                });
            });
            QObject::connect(reply, &QNetworkReply::readyRead, reply, [exchange, reply] {
                const QByteArray bytes = reply->readAll();
                exchange->update([&] { exchange->received += bytes; });
            });
            QObject::connect(reply, &QNetworkReply::finished, reply, [exchange, reply] {
                const QByteArray bytes =
                    reply->isOpen() ? reply->readAll() : QByteArray(); // closed by abort()
                exchange->update([&] {
                    exchange->received += bytes;
                    if (exchange->status == 0)
                        exchange->status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
                    exchange->error = reply->error();
                    exchange->errorString = reply->errorString();
                    exchange->finished = true;
                });
                exchange->reply = nullptr;
                reply->deleteLater();
            });
        },
        Qt::QueuedConnection);
    std::lock_guard lock(currentMutex_);
    current_ = exchange;
    return exchange;
}

// Ends the request whichever way its reader leaves (answer, stop, timeout, error), so a reply is
// never left running on the network thread.
class RemoteChatEngine::Finisher {
public:
    Finisher(RemoteChatEngine* engine, std::shared_ptr<Exchange> exchange)
        : engine_(engine), exchange_(std::move(exchange)) {}
    ~Finisher() {
        engine_->abort(exchange_);
        std::lock_guard lock(engine_->currentMutex_);
        if (engine_->current_ == exchange_) engine_->current_.reset();
    }

private:
    RemoteChatEngine* engine_;
    std::shared_ptr<Exchange> exchange_;
};

void RemoteChatEngine::abort(const std::shared_ptr<Exchange>& exchange) {
    QMetaObject::invokeMethod(
        network_,
        [exchange] {
            if (exchange->reply) exchange->reply->abort();
        },
        Qt::QueuedConnection);
}

RemoteChatEngine::Wait RemoteChatEngine::waitFor(Exchange& exchange, QByteArray* bytes,
                                                 const std::function<bool()>& keepGoing) {
    std::unique_lock lock(exchange.mutex);
    for (;;) {
        if (!exchange.received.isEmpty()) {
            *bytes = std::exchange(exchange.received, {});
            return Wait::Data;
        }
        if (exchange.finished) return Wait::Finished;
        if (cancelled_.load()) return Wait::Cancelled;
        if (keepGoing) {
            lock.unlock();
            const bool go = keepGoing();
            lock.lock();
            if (!go) return Wait::Cancelled;
        }
        const auto now = Clock::now();
        const auto deadline = exchange.requestSent ? exchange.lastActivity + timeouts_.idle
                                                   : exchange.started + timeouts_.connect;
        if (now >= deadline) {
            const bool connecting = !exchange.requestSent;
            if (connecting)
                throw EngineError(tr("No connection to %1 within %2 s.")
                                      .arg(QString::fromStdString(where()))
                                      .arg(secondsOf(timeouts_.connect))
                                      .toStdString());
            throw EngineError(tr("%1 sent nothing for %2 s, so Ocelle stopped waiting.")
                                  .arg(QString::fromStdString(where()))
                                  .arg(secondsOf(timeouts_.idle))
                                  .toStdString());
        }
        // Short slices: keepGoing is polled, and a cancel() is seen even if its wake-up were lost.
        exchange.changed.wait_until(lock, std::min(deadline, now + std::chrono::milliseconds(100)));
    }
}

void RemoteChatEngine::throwIfFailed(Exchange& exchange, const QByteArray& body, bool gotAnswer) const {
    int status;
    QNetworkReply::NetworkError error;
    QString errorString;
    {
        std::lock_guard lock(exchange.mutex);
        status = exchange.status;
        error = exchange.error;
        errorString = exchange.errorString;
    }
    const QString server = QString::fromStdString(where());
    if (status >= 400)
        throw EngineError(tr("%1 answered with an error: %2")
                              .arg(server, openai::httpErrorMessage(status, body))
                              .toStdString());
    if (error == QNetworkReply::NoError) return;
    if (gotAnswer)
        throw EngineError(
            tr("The connection to %1 broke off mid-answer: %2").arg(server, errorString).toStdString());
    throw EngineError(tr("Cannot reach %1: %2").arg(server, errorString).toStdString());
}

LoadedModelFacts RemoteChatEngine::load(const LoadRequest& request, const LoadProgress& progress) {
    unload();
    if (!request.remote)
        throw EngineError("RemoteChatEngine: no server given (a model file is for the local engine)");
    model_ = request.remote;
    if (progress && !progress(0.0)) throw LoadCancelled("remote load stopped");
    // The model list proves the address, the key and that the model is still served.
    const auto exchange =
        start(openai::endpointUrl(QUrl(QString::fromStdString(model_->baseUrl)), QStringLiteral("models")),
              QByteArray(), false);
    const Finisher finisher(this, exchange);
    QByteArray body, bytes;
    for (;;) {
        const Wait wait = waitFor(*exchange, &bytes, [&] { return !progress || progress(0.5); });
        if (wait == Wait::Cancelled) {
            throw LoadCancelled("remote load stopped");
        }
        if (wait == Wait::Finished) break;
        body += bytes;
    }
    throwIfFailed(*exchange, body, false);
    bool listed = false;
    try {
        for (const openai::ModelEntry& entry : openai::parseModelList(body))
            listed = listed || entry.id.toStdString() == model_->modelId;
    } catch (const EngineError& e) {
        throw EngineError(where() + ": " + e.what());
    }
    if (!listed)
        throw EngineError(tr("%1 does not serve \u201c%2\u201d (any more): it is not in its model list.")
                              .arg(QString::fromStdString(where()), QString::fromStdString(model_->modelId))
                              .toStdString());
    if (progress && !progress(1.0)) throw LoadCancelled("remote load stopped");
    loaded_.store(true);
    LoadedModelFacts facts;
    facts.device = model_->serverName;
    facts.deviceReason =
        tr("Answers come from the server at %1.").arg(QString::fromStdString(model_->baseUrl)).toStdString();
    return facts;
}

void RemoteChatEngine::unload() {
    loaded_.store(false);
    model_.reset();
}

GenerationOutcome RemoteChatEngine::generate(const GenerationRequest& request,
                                             const std::function<void(const StreamDelta&)>& onDelta) {
    if (!loaded_.load() || !model_) throw EngineError("No model is loaded.");
    QList<openai::ContentParts> mediaParts;
    for (const ChatTurn& turn : request.turns) {
        openai::ContentParts parts;
        for (const TurnMedia& media : turn.media)
            for (const QJsonValue& part : remoteContentParts(media)) parts.append(part);
        mediaParts << parts;
    }
    const QByteArray body =
        QJsonDocument(
            openai::chatRequest(request, QString::fromStdString(model_->modelId), streaming_, mediaParts))
            .toJson(QJsonDocument::Compact);

    GenerationOutcome outcome;
    if (cancelled_.load()) {
        outcome.ending = GenerationOutcome::Ending::Stopped;
        outcome.message = "Stopped before the answer began.";
        return outcome;
    }
    const auto exchange = start(openai::endpointUrl(QUrl(QString::fromStdString(model_->baseUrl)),
                                                    QStringLiteral("chat/completions")),
                                body, streaming_);
    const Finisher finisher(this, exchange);
    const auto started = Clock::now();
    std::optional<Clock::time_point> firstPiece;
    int pieces = 0; // chunks that carried text: the token count when the server gives no usage
    openai::Chunk totals;
    bool done = false;
    auto deliver = [&](const openai::Chunk& chunk) {
        if (!chunk.error.isEmpty()) {
            throw EngineError(tr("%1 reported an error: %2")
                                  .arg(QString::fromStdString(where()), chunk.error)
                                  .toStdString());
        }
        if (!chunk.reasoning.isEmpty() || !chunk.answer.isEmpty()) {
            if (!firstPiece) firstPiece = Clock::now();
            ++pieces;
            onDelta({chunk.reasoning.toStdString(), chunk.answer.toStdString()});
        }
        if (!chunk.finishReason.isEmpty()) totals.finishReason = chunk.finishReason;
        if (chunk.promptTokens >= 0) totals.promptTokens = chunk.promptTokens;
        if (chunk.completionTokens >= 0) totals.completionTokens = chunk.completionTokens;
    };

    openai::SseParser events;
    QByteArray whole; // an error body, or a whole (non-streamed) answer
    QByteArray bytes;
    for (;;) {
        const Wait wait = waitFor(*exchange, &bytes);
        if (wait == Wait::Cancelled) {
            outcome.ending = GenerationOutcome::Ending::Stopped;
            outcome.message = pieces > 0 ? "Stopped." : "Stopped before the answer began.";
            break;
        }
        if (wait == Wait::Finished) {
            throwIfFailed(*exchange, whole, pieces > 0);
            if (!streaming_ || !whole.isEmpty())
                deliver(openai::parseCompletion(whole));
            else if (!done && totals.finishReason.isEmpty())
                throw EngineError(tr("%1 closed the connection before the answer was finished.")
                                      .arg(QString::fromStdString(where()))
                                      .toStdString());
            break;
        }
        bool eventStream;
        {
            std::lock_guard lock(exchange->mutex);
            eventStream = exchange->status < 400 && exchange->contentType.startsWith("text/event-stream");
        }
        if (!eventStream) {
            whole += bytes; // an error body or a non-streamed answer: read when complete
            continue;
        }
        for (const QByteArray& data : events.feed(bytes)) {
            if (data.trimmed() == "[DONE]") {
                done = true;
                continue;
            }
            deliver(openai::parseStreamChunk(data));
        }
    }
    const auto end = Clock::now();
    outcome.promptTokens = std::max(0, totals.promptTokens);
    outcome.generatedTokens = totals.completionTokens >= 0 ? totals.completionTokens : pieces;
    if (firstPiece) {
        outcome.timeToFirstTokenSeconds = std::chrono::duration<double>(*firstPiece - started).count();
        const double writing = std::chrono::duration<double>(end - *firstPiece).count();
        if (writing > 0 && outcome.generatedTokens > 1)
            outcome.tokensPerSecond = (outcome.generatedTokens - 1) / writing;
    }
    if (outcome.ending != GenerationOutcome::Ending::Stopped &&
        totals.finishReason == QLatin1String("length")) {
        outcome.ending = GenerationOutcome::Ending::MaxTokens;
        outcome.message = "Stopped at the maximum answer length.";
    }
    return outcome;
}

} // namespace ocelle::app
