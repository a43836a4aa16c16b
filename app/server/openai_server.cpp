#include "openai_server.h"

#include "openai_api.h"
#include "served_model.h"

#include <QDateTime>
#include <QElapsedTimer>
#include <QHttpServerRequest>
#include <QHttpServerResponder>
#include <QPointer>
#include <QRandomGenerator>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTimer>

#include <mutex>
#include <optional>
#include <sys/socket.h>

namespace ocelle::server {

namespace json = chat::json;
using StatusCode = QHttpServerResponder::StatusCode;

bool isLoopback(const QHostAddress& address) {
    return address.isLoopback();
}

namespace {

constexpr qint64 kMaxHeaderBytes = 64 * 1024;

QByteArray statusText(int status) {
    switch (status) {
    case 413:
        return "Payload Too Large";
    case 431:
        return "Request Header Fields Too Large";
    default:
        return "Error";
    }
}

// Closes a connection the way a client can still read the answer: stop writing once the answer
// is out, read and drop what the client still sends, close when it does (or after a while).
void closeAfterAnswer(QTcpSocket* socket) {
    auto shutDownWriting = [socket] {
        if (socket->bytesToWrite() == 0 && socket->state() == QAbstractSocket::ConnectedState)
            ::shutdown(int(socket->socketDescriptor()), SHUT_WR);
    };
    socket->flush();
    QObject::connect(socket, &QTcpSocket::bytesWritten, socket, shutDownWriting);
    shutDownWriting();
    QTimer::singleShot(10000, socket, [socket] { socket->abort(); });
}

// Watches a connection's incoming bytes before QHttpServer reads them (its readyRead slot is
// connected first), so that an oversized request is refused as soon as its size is known rather
// than after it has been read into memory.
class RequestGuard : public QObject {
public:
    RequestGuard(QTcpSocket* socket, QObject* httpServer, qint64 limit)
        : QObject(socket), socket_(socket), httpServer_(httpServer), limit_(limit) {
        connect(socket, &QTcpSocket::readyRead, this, &RequestGuard::onReadyRead);
    }
    // QHttpServer has the whole request: what follows is the next one.
    void nextRequest() {
        head_.clear();
        headDone_ = false;
        bodyBytes_ = 0;
    }

private:
    void onReadyRead() {
        if (refused_) {
            socket_->readAll(); // drained, not kept
            return;
        }
        const QByteArray fresh = socket_->peek(socket_->bytesAvailable());
        if (headDone_) {
            bodyBytes_ += fresh.size();
        } else {
            head_ += fresh;
            const qsizetype end = head_.indexOf("\r\n\r\n");
            if (end < 0) {
                if (head_.size() > kMaxHeaderBytes)
                    refuse(431, "The request's headers are larger than " + std::to_string(kMaxHeaderBytes) +
                                    " bytes.");
                return;
            }
            headDone_ = true;
            bodyBytes_ = head_.size() - (end + 4);
            bool expectContinue = false;
            for (const QByteArray& line : head_.left(end).split('\n')) {
                const qsizetype colon = line.indexOf(':');
                if (colon < 0) continue;
                const QByteArray name = line.left(colon).trimmed().toLower();
                const QByteArray value = line.mid(colon + 1).trimmed();
                if (name == "content-length") {
                    bool ok = false;
                    const qint64 length = value.toLongLong(&ok);
                    if (ok && length > limit_) {
                        refuse(413, "The request body is " + std::to_string(length) +
                                        " bytes; this server takes at most " + std::to_string(limit_) + ".");
                        return;
                    }
                } else if (name == "expect" && value.toLower() == "100-continue") {
                    expectContinue = true;
                }
            }
            head_.clear();
            // The client waits for this before it sends the body (curl does for large bodies).
            if (expectContinue) socket_->write("HTTP/1.1 100 Continue\r\n\r\n");
        }
        if (bodyBytes_ > limit_)
            refuse(413, "The request body is larger than " + std::to_string(limit_) +
                            " bytes, the most this server takes.");
    }

    void refuse(int status, const std::string& message) {
        refused_ = true;
        // QHttpServer no longer reads this connection; what it had read is dropped.
        QObject::disconnect(socket_, &QTcpSocket::readyRead, httpServer_, nullptr);
        if (socket_->isTransactionStarted()) socket_->commitTransaction();
        socket_->readAll();
        ApiError error;
        error.status = status;
        error.message = message;
        error.code = status == 413 ? "request_too_large" : "headers_too_large";
        const QByteArray body = QByteArray::fromStdString(errorJson(error));
        socket_->write("HTTP/1.1 " + QByteArray::number(status) + " " + statusText(status) +
                       "\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: " +
                       QByteArray::number(body.size()) + "\r\n\r\n" + body);
        closeAfterAnswer(socket_);
    }

    QTcpSocket* socket_;
    QObject* httpServer_;
    qint64 limit_;
    QByteArray head_;
    bool headDone_ = false;
    qint64 bodyBytes_ = 0;
    bool refused_ = false;
};

class GuardedTcpServer : public QTcpServer {
public:
    GuardedTcpServer(QObject* httpServer, qint64 limit) : httpServer_(httpServer), limit_(limit) {}

protected:
    void incomingConnection(qintptr descriptor) override {
        auto* socket = new QTcpSocket(this);
        if (!socket->setSocketDescriptor(descriptor)) {
            delete socket;
            return;
        }
        new RequestGuard(socket, httpServer_, limit_);
        addPendingConnection(socket);
    }

private:
    QObject* httpServer_;
    qint64 limit_;
};

void writeJson(QHttpServerResponder& responder, int status, const std::string& body, bool askForKey = false) {
    const QByteArray bytes = QByteArray::fromStdString(body);
    responder.writeStatusLine(StatusCode(status));
    responder.writeHeader("Content-Type", "application/json");
    if (askForKey) responder.writeHeader("WWW-Authenticate", "Bearer");
    responder.writeHeader("Content-Length", QByteArray::number(bytes.size()));
    responder.writeBody(bytes);
}

void writeError(QHttpServerResponder& responder, const ApiError& error) {
    writeJson(responder, error.status, errorJson(error), error.status == 401);
}

ApiError apiError(int status, std::string message, std::string type = "invalid_request_error",
                  std::string code = {}) {
    ApiError error;
    error.status = status;
    error.type = std::move(type);
    error.message = std::move(message);
    error.code = std::move(code);
    return error;
}

bool sameKey(const QByteArray& given, const QByteArray& wanted) {
    // Compared in time that does not depend on where they differ.
    unsigned char difference = given.size() == wanted.size() ? 0 : 1;
    for (qsizetype i = 0; i < given.size(); ++i)
        difference |= static_cast<unsigned char>(given[i] ^ wanted[i % qMax<qsizetype>(1, wanted.size())]);
    return difference == 0;
}

// One server-sent event as one HTTP/1.1 chunk.
void writeEvent(QHttpServerResponder& responder, const std::string& data) {
    const QByteArray event = "data: " + QByteArray::fromStdString(data) + "\n\n";
    responder.writeBody(QByteArray::number(event.size(), 16) + "\r\n" + event + "\r\n");
}

} // namespace

struct OpenAiServer::Job {
    std::string completionId;
    long long created = 0;
    QPointer<QTcpSocket> socket;
    std::unique_ptr<QHttpServerResponder> responder;
    QMetaObject::Connection onDisconnect;
    ChatRequest request;
    std::atomic<bool> cancelled{false};

    // Filled by the worker, taken by the server thread.
    std::mutex mutex;
    CompletionDelta pending;
    bool flushQueued = false;
    std::optional<CompletionResult> result;
    std::optional<ApiError> error;

    // The server thread's own.
    QElapsedTimer age;
    bool streamStarted = false;
    int toolCallsSent = 0;

    bool writable() const { return socket && socket->state() == QAbstractSocket::ConnectedState; }
};

OpenAiServer::OpenAiServer(std::shared_ptr<ServedModel> model, ServerOptions options, QObject* parent)
    : QAbstractHttpServer(parent), model_(std::move(model)), options_(std::move(options)),
      workerContext_(new QObject) {
    created_ = QDateTime::currentSecsSinceEpoch();
    workerContext_->moveToThread(&worker_);
    connect(&worker_, &QThread::finished, workerContext_, &QObject::deleteLater);
    worker_.setObjectName("ocelle-server-worker");
    worker_.start();
}

OpenAiServer::~OpenAiServer() {
    if (running_) {
        running_->cancelled.store(true);
        model_->cancel(running_->cancelled);
    }
    worker_.quit();
    worker_.wait();
}

bool OpenAiServer::start(QString* error) {
    auto* tcp = new GuardedTcpServer(this, options_.maxRequestBytes);
    if (!tcp->listen(options_.address, options_.port)) {
        if (error) *error = tcp->errorString();
        delete tcp;
        return false;
    }
    port_ = tcp->serverPort();
    bind(tcp);
    return true;
}

QString OpenAiServer::baseUrl() const {
    QString host = options_.address.toString();
    if (options_.address.protocol() == QAbstractSocket::IPv6Protocol) host = "[" + host + "]";
    return QString("http://%1:%2/v1").arg(host).arg(port_);
}

bool OpenAiServer::handleRequest(const QHttpServerRequest& request, QTcpSocket* socket) {
    // (RequestGuard has no meta-object of its own, so findChildren could not tell it apart.)
    for (QObject* child : socket->children())
        if (auto* guard = dynamic_cast<RequestGuard*>(child)) guard->nextRequest();
    QHttpServerResponder responder = makeResponder(request, socket);
    if (!options_.apiKey.isEmpty()) {
        const QByteArray authorization = request.value("Authorization");
        if (!authorization.startsWith("Bearer ")) {
            writeError(responder,
                       apiError(401,
                                "You didn't provide an API key. Send it as \"Authorization: Bearer "
                                "KEY\" (the key the server was started with).",
                                "invalid_request_error", "missing_api_key"));
            return true;
        }
        if (!sameKey(authorization.mid(7).trimmed(), options_.apiKey.toUtf8())) {
            writeError(responder, apiError(401, "Incorrect API key provided.", "invalid_request_error",
                                           "invalid_api_key"));
            return true;
        }
    }
    const QString path = request.url().path();
    const auto method = request.method();
    const std::string id = model_->id();
    auto wrongMethod = [&](const char* allowed) {
        writeError(responder,
                   apiError(405, std::string("Use ") + allowed + " for " + path.toStdString() + "."));
        return true;
    };
    if (path == "/v1/models" || path == "/v1/models/") {
        if (method != QHttpServerRequest::Method::Get) return wrongMethod("GET");
        writeJson(responder, 200, modelListJson(id, created_, model_->capabilities()));
    } else if (path.startsWith("/v1/models/")) {
        if (method != QHttpServerRequest::Method::Get) return wrongMethod("GET");
        if (path.mid(11).toStdString() != id) {
            writeError(responder, apiError(404,
                                           "The model '" + path.mid(11).toStdString() +
                                               "' does not exist here; this server runs '" + id + "'.",
                                           "invalid_request_error", "model_not_found"));
        } else {
            writeJson(responder, 200, modelJson(id, created_, model_->capabilities()));
        }
    } else if (path == "/v1/chat/completions") {
        if (method != QHttpServerRequest::Method::Post) return wrongMethod("POST");
        answerChatCompletion(request, socket);
    } else {
        writeError(responder,
                   apiError(404,
                            "Unknown request URL: " + path.toStdString() +
                                ". This server offers GET /v1/models and POST /v1/chat/completions.",
                            "invalid_request_error", "unknown_url"));
    }
    return true;
}

void OpenAiServer::missingHandler(const QHttpServerRequest& request, QTcpSocket* socket) {
    QHttpServerResponder responder = makeResponder(request, socket);
    writeError(responder, apiError(404, "Unknown request."));
}

void OpenAiServer::answerChatCompletion(const QHttpServerRequest& request, QTcpSocket* socket) {
    auto responder = std::make_unique<QHttpServerResponder>(makeResponder(request, socket));
    if (request.body().size() > options_.maxRequestBytes) {
        writeError(*responder, apiError(413,
                                        "The request body is larger than " +
                                            std::to_string(options_.maxRequestBytes) + " bytes.",
                                        "invalid_request_error", "request_too_large"));
        return;
    }
    auto job = std::make_shared<Job>();
    try {
        job->request = parseChatRequest(request.body(), model_->id());
    } catch (const ApiException& e) {
        writeError(*responder, e.error());
        return;
    }
    if (running_ && int(waiting_.size()) >= options_.maxQueued) {
        writeError(*responder, apiError(503,
                                        "The server is busy: one request is being answered and " +
                                            std::to_string(waiting_.size()) +
                                            " are waiting, the most it keeps. Try again later.",
                                        "server_error", "queue_full"));
        return;
    }
    job->completionId = "chatcmpl-" + QByteArray::number(QRandomGenerator::global()->generate64(), 16)
                                          .rightJustified(16, '0')
                                          .toStdString();
    job->created = QDateTime::currentSecsSinceEpoch();
    job->age.start();
    job->socket = socket;
    job->responder = std::move(responder);
    std::weak_ptr<Job> weak = job;
    job->onDisconnect = connect(socket, &QTcpSocket::disconnected, this, [this, weak] {
        if (auto gone = weak.lock()) dropJob(gone);
    });
    waiting_.push_back(job);
    startNext();
}

void OpenAiServer::dropJob(const std::shared_ptr<Job>& job) {
    if (job == running_) {
        job->cancelled.store(true);
        model_->cancel(job->cancelled);
        return;
    }
    std::erase(waiting_, job);
}

void OpenAiServer::startNext() {
    if (running_ || waiting_.empty()) return;
    running_ = waiting_.front();
    waiting_.pop_front();
    QMetaObject::invokeMethod(
        workerContext_, [this, job = running_] { runOnWorker(job); }, Qt::QueuedConnection);
}

void OpenAiServer::runOnWorker(const std::shared_ptr<Job>& job) {
    std::optional<CompletionResult> result;
    std::optional<ApiError> error;
    try {
        std::vector<chat::Part> encoded;
        for (const MediaInput& input : job->request.media) encoded.push_back(model_->encode(input));
        placeMedia(job->request.conversation, std::move(encoded));
        result = model_->complete(
            job->request.conversation, job->request.options,
            [this, &job](const CompletionDelta& delta) {
                bool schedule = false;
                {
                    std::lock_guard lock(job->mutex);
                    job->pending.reasoning += delta.reasoning;
                    job->pending.answer += delta.answer;
                    job->pending.toolCalls.insert(job->pending.toolCalls.end(), delta.toolCalls.begin(),
                                                  delta.toolCalls.end());
                    // Whatever arrives before the server thread gets to it goes out as one chunk.
                    if (job->request.stream && !job->flushQueued) schedule = job->flushQueued = true;
                }
                if (schedule)
                    QMetaObject::invokeMethod(
                        this, [this, job] { flush(job); }, Qt::QueuedConnection);
            },
            job->cancelled);
    } catch (const RequestError& e) {
        error = apiError(400, e.what(), "invalid_request_error", e.code());
    } catch (const std::exception& e) {
        error = apiError(500, std::string("The model failed to answer: ") + e.what(), "server_error");
    }
    {
        std::lock_guard lock(job->mutex);
        job->result = result;
        job->error = error;
    }
    QMetaObject::invokeMethod(
        this, [this, job] { finish(job); }, Qt::QueuedConnection);
}

// The stream's headers (chunked, so the connection stays usable afterwards) and its first chunk.
void OpenAiServer::startStream(Job& job) {
    if (job.streamStarted) return;
    job.streamStarted = true;
    QHttpServerResponder& responder = *job.responder;
    responder.writeStatusLine(StatusCode::Ok);
    responder.writeHeader("Content-Type", "text/event-stream");
    responder.writeHeader("Cache-Control", "no-cache");
    responder.writeHeader("Transfer-Encoding", "chunked");
    writeEvent(responder, chunkJson(job.completionId, job.created, model_->id(),
                                    json::Value::object({{"role", json::Value::string("assistant")},
                                                         {"content", json::Value::string("")}}),
                                    nullptr));
}

void OpenAiServer::flush(const std::shared_ptr<Job>& job) {
    CompletionDelta delta;
    {
        std::lock_guard lock(job->mutex);
        if (!job->request.stream) return;
        delta = std::exchange(job->pending, {});
        job->flushQueued = false;
    }
    if (!job->writable() || delta.empty()) return;
    QHttpServerResponder& responder = *job->responder;
    startStream(*job);
    json::Value out = json::Value::object();
    if (!delta.reasoning.empty()) out.set("reasoning_content", json::Value::string(delta.reasoning));
    if (!delta.answer.empty()) out.set("content", json::Value::string(delta.answer));
    if (!delta.toolCalls.empty()) {
        out.set("tool_calls", toolCallsJson(delta.toolCalls, job->completionId, job->toolCallsSent, true));
        job->toolCallsSent += int(delta.toolCalls.size());
    }
    writeEvent(responder, chunkJson(job->completionId, job->created, model_->id(), out, nullptr));
}

void OpenAiServer::finish(const std::shared_ptr<Job>& job) {
    flush(job);
    std::optional<CompletionResult> result;
    std::optional<ApiError> error;
    CompletionDelta whole;
    {
        std::lock_guard lock(job->mutex);
        result = job->result;
        error = job->error;
        whole = std::exchange(job->pending, {});
    }
    if (job->writable()) {
        QHttpServerResponder& responder = *job->responder;
        if (error && !job->streamStarted) {
            writeError(responder, *error);
        } else if (error) {
            // The stream has begun: the error goes as an event, then the stream ends.
            writeEvent(responder, errorJson(*error));
            writeEvent(responder, "[DONE]");
            responder.writeBody("0\r\n\r\n");
        } else if (job->request.stream) {
            startStream(*job);
            writeEvent(responder, chunkJson(job->completionId, job->created, model_->id(),
                                            json::Value::object(), finishReasonName(result->finish)));
            if (job->request.includeUsage)
                writeEvent(responder, usageChunkJson(job->completionId, job->created, model_->id(), *result));
            writeEvent(responder, "[DONE]");
            responder.writeBody("0\r\n\r\n");
        } else {
            writeJson(responder, 200,
                      completionJson(job->completionId, job->created, model_->id(), whole, *result));
        }
        if (!error) {
            ++served_;
            emit requestsServedChanged(served_);
        }
    }
    QString line = QString::fromStdString(job->completionId) + (job->request.stream ? " (stream): " : ": ");
    if (error) {
        line += QString("%1 %2").arg(error->status).arg(QString::fromStdString(error->message));
    } else {
        line += QString("%1 prompt + %2 completion tokens, ")
                    .arg(result->promptTokens)
                    .arg(result->completionTokens);
        line += result->finish == CompletionResult::Finish::Cancelled
                    ? QString("stopped: the client went away")
                    : QString("finish %1").arg(finishReasonName(result->finish));
    }
    emit requestLogged(line + QString(", %1 s").arg(double(job->age.elapsed()) / 1000.0, 0, 'f', 2));
    disconnect(job->onDisconnect);
    if (running_ == job) running_.reset();
    startNext();
}

} // namespace ocelle::server
