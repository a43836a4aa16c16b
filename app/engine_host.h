// The engine thread. EngineHost lives on the GUI thread and owns a QThread running an
// EngineWorker, which owns the ChatEngine. Requests go over as queued calls, results come back
// as queued signals, so the GUI thread never waits for the engine. Only cancel() reaches into
// the engine directly, through its thread-safe cancel flag.
#pragma once

#include "chat_engine.h"

#include <QObject>
#include <QString>
#include <QThread>
#include <atomic>
#include <memory>

namespace ocelle::app {

// A generation's result as the GUI thread receives it.
struct GenerationReport {
    GenerationOutcome outcome;
    double reasoningSeconds = -1; // from the first reasoning text to the first answer text; -1: none
    double totalSeconds = 0;
};

class EngineWorker : public QObject {
    Q_OBJECT
public:
    EngineWorker(std::unique_ptr<ChatEngine> engine, const std::atomic<quint64>* wantedLoad,
                 const std::atomic<quint64>* cancelledThrough);
    ChatEngine* engine() { return engine_.get(); }

    // Called on the engine thread (queued).
    void load(quint64 ticket, const ocelle::app::LoadRequest& request);
    void unload();
    void generate(quint64 requestId, const ocelle::app::GenerationRequest& request);

signals:
    void loadProgress(quint64 ticket, double fraction);
    void loadSucceeded(quint64 ticket, const ocelle::app::LoadedModelFacts& facts);
    void loadFailed(quint64 ticket, const QString& message);
    void delta(quint64 requestId, const QString& reasoning, const QString& answer);
    void generationFinished(quint64 requestId, const ocelle::app::GenerationReport& report);
    void generationFailed(quint64 requestId, const QString& message);

private:
    std::unique_ptr<ChatEngine> engine_;
    const std::atomic<quint64>* wantedLoad_;
    const std::atomic<quint64>* cancelledThrough_;
};

class EngineHost : public QObject {
    Q_OBJECT
public:
    explicit EngineHost(std::unique_ptr<ChatEngine> engine, QObject* parent = nullptr);
    ~EngineHost() override;

    // Each returns the ticket/id its signals will carry.
    quint64 requestLoad(const LoadRequest& request);
    // Forget the load in progress: the engine stops loading at its next progress report, and a
    // model that arrives anyway is dropped on the engine thread.
    void abandonLoad();
    void requestUnload();
    quint64 requestGenerate(const GenerationRequest& request);
    // Tokens `text` takes in a prompt with the loaded model (0 without one); GUI thread.
    int countTokens(const QString& text) const;
    // Stops the generation in progress (and one already queued). Any thread.
    void cancel();
    // The loaded model for the local server (ChatEngine::sharedModel); null without one.
    std::shared_ptr<engine::Model> loadedModel() const { return engine_->sharedModel(); }

signals:
    // Loading progress (0..1), at most about every percent.
    void loadProgress(quint64 ticket, double fraction);
    void loadSucceeded(quint64 ticket, const ocelle::app::LoadedModelFacts& facts);
    void loadFailed(quint64 ticket, const QString& message);
    void delta(quint64 requestId, const QString& reasoning, const QString& answer);
    void generationFinished(quint64 requestId, const ocelle::app::GenerationReport& report);
    void generationFailed(quint64 requestId, const QString& message);

private:
    QThread thread_;
    EngineWorker* worker_; // lives on thread_, deleted when it finishes
    ChatEngine* engine_;   // owned by worker_; only cancel()/resetCancel() are called from here
    std::atomic<quint64> wantedLoad_{0};
    // Requests up to this id are stopped; set before the engine's own flag so none slips through.
    std::atomic<quint64> cancelledThrough_{0};
    quint64 nextTicket_ = 1;
    quint64 nextRequest_ = 1;
};

} // namespace ocelle::app

Q_DECLARE_METATYPE(ocelle::app::GenerationRequest)
Q_DECLARE_METATYPE(ocelle::app::LoadedModelFacts)
Q_DECLARE_METATYPE(ocelle::app::GenerationReport)
