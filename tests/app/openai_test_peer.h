// A small OpenAI-compatible HTTP peer for the remote engine's failure tests, on its own thread (the
// engine blocks the thread that calls generate()). It does what `ocelle-cli serve` cannot be made
// to do on cue: go silent mid-answer (idle timeout) and report an error inside a stream. The
// requested model id picks the behaviour:
//   "steady"  reasoning, then the answer in pieces, usage, [DONE] (pieces pauseMs apart)
//   "slow"    200 answer pieces 50 ms apart (to be stopped)
//   "stall"   one piece, then silence with the connection open
//   "drop"    two pieces, then the connection is closed without an end
//   "midway-error"  one piece, then an error event
// Any other id answers like "steady". `models` replaces the listed ids (the UI test lists real-looking
// names). Requests are recorded; a key, when set, is required as a Bearer token (else 401).
#pragma once

#include <QByteArray>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QList>
#include <QPointer>
#include <QStringList>
#include <QTcpServer>
#include <QTcpSocket>
#include <QThread>
#include <QTimer>
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>

class OpenAiTestPeer : public QObject {
public:
    struct Request {
        QByteArray method, path, authorization;
        QJsonObject body;
    };

    explicit OpenAiTestPeer(QByteArray key = {}, QStringList models = {})
        : key_(std::move(key)), models_(std::move(models)) {
        if (models_.isEmpty()) models_ = {"steady", "slow", "stall", "drop", "midway-error"};
        moveToThread(&thread_);
        thread_.start();
        QMetaObject::invokeMethod(
            this,
            [this] {
                server_ = new QTcpServer(this);
                connect(server_, &QTcpServer::newConnection, this, [this] {
                    while (QTcpSocket* socket = server_->nextPendingConnection()) serve(socket);
                });
                server_->listen(QHostAddress::LocalHost, 0);
                port_.store(server_->serverPort());
            },
            Qt::BlockingQueuedConnection);
    }
    ~OpenAiTestPeer() override {
        QMetaObject::invokeMethod(
            this, [this] { delete server_; }, Qt::BlockingQueuedConnection);
        thread_.quit();
        thread_.wait();
    }

    int port() const { return port_.load(); }
    QString baseUrl() const { return QStringLiteral("http://127.0.0.1:%1/v1").arg(port()); }
    QList<Request> requests() const {
        std::lock_guard lock(mutex_);
        return requests_;
    }

private:
    void serve(QTcpSocket* socket) {
        auto buffer = std::make_shared<QByteArray>();
        connect(socket, &QTcpSocket::disconnected, socket, &QObject::deleteLater);
        connect(socket, &QTcpSocket::readyRead, this, [this, socket, buffer] {
            *buffer += socket->readAll();
            const qsizetype headerEnd = buffer->indexOf("\r\n\r\n");
            if (headerEnd < 0) return;
            const QList<QByteArray> lines = buffer->left(headerEnd).split('\n');
            Request request;
            const QList<QByteArray> first = lines.value(0).trimmed().split(' ');
            request.method = first.value(0);
            request.path = first.value(1);
            qsizetype length = 0;
            for (const QByteArray& line : lines.mid(1)) {
                const qsizetype colon = line.indexOf(':');
                const QByteArray name = line.left(colon).trimmed().toLower(),
                                 value = line.mid(colon + 1).trimmed();
                if (name == "content-length") length = value.toLongLong();
                if (name == "authorization") request.authorization = value;
            }
            if (buffer->size() < headerEnd + 4 + length) return; // the body is still arriving
            request.body = QJsonDocument::fromJson(buffer->mid(headerEnd + 4, length)).object();
            buffer->clear();
            {
                std::lock_guard lock(mutex_);
                requests_ << request;
            }
            respond(socket, request);
        });
    }

    static void send(QTcpSocket* socket, int status, const QByteArray& type, const QByteArray& body) {
        socket->write("HTTP/1.1 " + QByteArray::number(status) + " X\r\nContent-Type: " + type +
                      "\r\nContent-Length: " + QByteArray::number(body.size()) + "\r\n\r\n" + body);
    }
    static QByteArray event(const QJsonObject& object) {
        return "data: " + QJsonDocument(object).toJson(QJsonDocument::Compact) + "\n\n";
    }
    static QJsonObject delta(const char* field, const QString& text) {
        return {{"choices", QJsonArray{QJsonObject{{"index", 0}, {"delta", QJsonObject{{field, text}}}}}}};
    }
    // Chunked transfer, one chunk per event, as streaming servers do.
    static void chunk(QTcpSocket* socket, const QByteArray& data) {
        socket->write(QByteArray::number(data.size(), 16) + "\r\n" + data + "\r\n");
    }

    void respond(QTcpSocket* socket, const Request& request) {
        if (!key_.isEmpty() && request.authorization != "Bearer " + key_) {
            send(socket, 401, "application/json",
                 R"({"error":{"message":"Invalid API key","type":"invalid_request_error"}})");
            return;
        }
        if (request.path.endsWith("/models")) {
            QJsonArray data;
            for (const QString& id : models_)
                data.append(QJsonObject{{"id", id}, {"object", "model"}, {"owned_by", "test-peer"}});
            send(socket, 200, "application/json",
                 QJsonDocument(QJsonObject{{"object", "list"}, {"data", data}}).toJson());
            return;
        }
        const QString model = request.body.value("model").toString();
        if (!request.body.value("stream").toBool()) {
            const QJsonObject message{
                {"role", "assistant"}, {"content", "Whole answer."}, {"reasoning_content", "Thought."}};
            send(socket, 200, "application/json",
                 QJsonDocument(
                     QJsonObject{{"choices",
                                  QJsonArray{QJsonObject{{"message", message}, {"finish_reason", "stop"}}}},
                                 {"usage", QJsonObject{{"prompt_tokens", 9}, {"completion_tokens", 3}}}})
                     .toJson());
            return;
        }
        socket->write(
            "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n");
        QList<QByteArray> events;
        if (model != "slow" && model != "midway-error" && model != "stall" && model != "drop") {
            events << event(delta("reasoning_content", "Thinking."));
            for (const char* piece : {"Hello", ", ", "world"}) events << event(delta("content", piece));
            events << event({{"choices", QJsonArray{QJsonObject{{"delta", QJsonObject{{"content", "!"}}},
                                                                {"finish_reason", "stop"}}}}});
            events << event({{"choices", QJsonArray{}},
                             {"usage", QJsonObject{{"prompt_tokens", 21}, {"completion_tokens", 5}}}});
            events << "data: [DONE]\n\n";
        } else if (model == "slow") {
            for (int i = 0; i < 200; ++i) events << event(delta("content", QStringLiteral("w%1 ").arg(i)));
        } else if (model == "midway-error") {
            events << event(delta("content", "Partial"));
            events << event({{"error", QJsonObject{{"message", "The model ran out of memory"}}}});
        } else { // stall, drop
            events << event(delta("content", "Partial"));
            if (model == "drop") events << event(delta("content", " answer"));
        }
        const int pause = model == "slow" ? 50 : 20;
        auto next = std::make_shared<std::function<void(int)>>();
        QPointer<QTcpSocket> guard(socket);
        // Only the pending timer holds the step strongly, so it is freed when the stream ends.
        std::weak_ptr<std::function<void(int)>> weakNext = next;
        *next = [guard, events, pause, model, weakNext](int i) {
            if (!guard) return;
            if (i < events.size()) {
                chunk(guard, events[i]);
                QTimer::singleShot(pause, guard, [step = weakNext.lock(), i] { (*step)(i + 1); });
            } else if (model == "drop") {
                guard->abort(); // no terminating chunk: the answer ends mid-way
            } else if (model != "stall") {
                guard->write("0\r\n\r\n");
            }
        };
        (*next)(0);
    }

    QThread thread_;
    QTcpServer* server_ = nullptr;
    std::atomic<int> port_{0};
    QByteArray key_;
    QStringList models_;
    mutable std::mutex mutex_;
    QList<Request> requests_;
};
