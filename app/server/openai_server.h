// Ocelle's local OpenAI-compatible server (Qt HttpServer; Qt Core and Network only, no GUI), used
// by the app and by `ocelle-cli serve`:
//
//   GET  /v1/models                the loaded model
//   GET  /v1/models/{id}
//   POST /v1/chat/completions      stream false (one JSON answer) or true (server-sent events,
//                                  one chunk per batch of tokens, then "data: [DONE]")
//
// Requests are answered one at a time by one worker thread (never the thread the server runs on);
// up to `maxQueued` more wait, beyond that the answer is 503. A client that goes away stops its
// generation (or leaves the queue). Bodies over `maxRequestBytes` are refused with 413 as soon as
// their size is known, before they are read. With an API key, every request needs
// "Authorization: Bearer KEY" (401 otherwise). Errors are OpenAI's {"error": {...}} JSON.
#pragma once

#include <QAbstractHttpServer>
#include <QHostAddress>
#include <QThread>

#include <deque>
#include <memory>

class QHttpServerResponder;

namespace ocelle::server {

class ServedModel;
struct ApiError;
struct CompletionDelta;
struct CompletionResult;

struct ServerOptions {
    QHostAddress address = QHostAddress::LocalHost;
    quint16 port = 8080; // 0: any free port (see OpenAiServer::port())
    QString apiKey;      // empty: no key needed
    qint64 maxRequestBytes = 32 * 1024 * 1024;
    int maxQueued = 4; // requests waiting behind the one being answered
};

// True for addresses only this computer can reach (127.0.0.0/8, ::1).
bool isLoopback(const QHostAddress& address);

class OpenAiServer : public QAbstractHttpServer {
    Q_OBJECT
public:
    OpenAiServer(std::shared_ptr<ServedModel> model, ServerOptions options, QObject* parent = nullptr);
    ~OpenAiServer() override;

    // Starts listening. False with `error` set when the address cannot be bound.
    bool start(QString* error);
    quint16 port() const { return port_; }
    QString baseUrl() const; // http://HOST:PORT/v1
    int requestsServed() const { return served_; }
    int requestsWaiting() const { return int(waiting_.size()); }

signals:
    void requestsServedChanged(int served);
    // One line per chat completion, for a log: status, tokens, how it ended, how long it took.
    void requestLogged(const QString& line);

protected:
    bool handleRequest(const QHttpServerRequest& request, QTcpSocket* socket) override;
    void missingHandler(const QHttpServerRequest& request, QTcpSocket* socket) override;

private:
    struct Job;
    void answerChatCompletion(const QHttpServerRequest& request, QTcpSocket* socket);
    void startNext();
    void runOnWorker(const std::shared_ptr<Job>& job); // the worker thread
    void startStream(Job& job);
    void flush(const std::shared_ptr<Job>& job); // the server thread: writes what arrived
    void finish(const std::shared_ptr<Job>& job);
    void dropJob(const std::shared_ptr<Job>& job);

    std::shared_ptr<ServedModel> model_;
    ServerOptions options_;
    quint16 port_ = 0;
    QThread worker_;
    QObject* workerContext_; // lives on worker_: jobs are queued calls to it
    std::shared_ptr<Job> running_;
    std::deque<std::shared_ptr<Job>> waiting_;
    int served_ = 0;
    long long created_ = 0; // when the model was put up, for /v1/models
};

} // namespace ocelle::server
