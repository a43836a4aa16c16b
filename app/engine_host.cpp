#include "engine_host.h"

#include <QMetaObject>
#include <chrono>
#include <optional>

namespace ocelle::app {

EngineWorker::EngineWorker(std::unique_ptr<ChatEngine> engine, const std::atomic<quint64>* wantedLoad,
                           const std::atomic<quint64>* cancelledThrough)
    : engine_(std::move(engine)), wantedLoad_(wantedLoad), cancelledThrough_(cancelledThrough) {}

void EngineWorker::load(quint64 ticket, const LoadRequest& request) {
    if (ticket != wantedLoad_->load()) return; // abandoned before it started
    double reported = -1;
    auto progress = [this, ticket, &reported](double fraction) {
        if (ticket != wantedLoad_->load()) return false; // abandoned: stop loading
        if (fraction - reported >= 0.01 || (fraction >= 1.0 && reported < 1.0)) {
            reported = fraction;
            emit loadProgress(ticket, fraction);
        }
        return true;
    };
    try {
        const LoadedModelFacts facts = engine_->load(request, progress);
        if (ticket != wantedLoad_->load()) {
            // Abandoned while loading: free the memory now rather than holding an unwanted model.
            engine_->unload();
            return;
        }
        emit loadSucceeded(ticket, facts);
    } catch (const LoadCancelled&) {
        // Only an abandoned load is stopped this way; its requester has moved on already.
    } catch (const std::exception& e) {
        emit loadFailed(ticket, QString::fromUtf8(e.what()));
    }
}

void EngineWorker::unload() {
    engine_->unload();
}

void EngineWorker::generate(quint64 requestId, const GenerationRequest& request) {
    using Clock = std::chrono::steady_clock;
    const auto start = Clock::now();
    std::optional<Clock::time_point> firstReasoning, firstAnswer;
    // The engine's cancel flag is a level: clear an older stop, then look whether this request
    // was stopped before it started (a stop arriving after the reset sets the flag again).
    engine_->resetCancel();
    if (requestId <= cancelledThrough_->load()) {
        GenerationReport report;
        report.outcome.ending = GenerationOutcome::Ending::Stopped;
        report.outcome.message = "Stopped before the answer began.";
        emit generationFinished(requestId, report);
        return;
    }
    try {
        GenerationReport report;
        report.outcome = engine_->generate(request, [&](const StreamDelta& d) {
            const auto now = Clock::now();
            if (!d.reasoning.empty() && !firstReasoning) firstReasoning = now;
            if (!d.answer.empty() && !firstAnswer) firstAnswer = now;
            emit delta(requestId, QString::fromStdString(d.reasoning), QString::fromStdString(d.answer));
        });
        const auto end = Clock::now();
        if (firstReasoning) {
            report.reasoningSeconds =
                std::chrono::duration<double>((firstAnswer ? *firstAnswer : end) - *firstReasoning).count();
        }
        report.totalSeconds = std::chrono::duration<double>(end - start).count();
        emit generationFinished(requestId, report);
    } catch (const std::exception& e) {
        emit generationFailed(requestId, QString::fromUtf8(e.what()));
    }
}

EngineHost::EngineHost(std::unique_ptr<ChatEngine> engine, QObject* parent) : QObject(parent) {
    qRegisterMetaType<GenerationRequest>();
    qRegisterMetaType<GenerationReport>();
    qRegisterMetaType<LoadedModelFacts>();
    engine_ = engine.get();
    worker_ = new EngineWorker(std::move(engine), &wantedLoad_, &cancelledThrough_);
    worker_->moveToThread(&thread_);
    connect(&thread_, &QThread::finished, worker_, &QObject::deleteLater);
    // Queued: the worker's signals are emitted on the engine thread.
    connect(worker_, &EngineWorker::loadProgress, this, &EngineHost::loadProgress, Qt::QueuedConnection);
    connect(worker_, &EngineWorker::loadSucceeded, this, &EngineHost::loadSucceeded, Qt::QueuedConnection);
    connect(worker_, &EngineWorker::loadFailed, this, &EngineHost::loadFailed, Qt::QueuedConnection);
    connect(worker_, &EngineWorker::delta, this, &EngineHost::delta, Qt::QueuedConnection);
    connect(worker_, &EngineWorker::generationFinished, this, &EngineHost::generationFinished,
            Qt::QueuedConnection);
    connect(worker_, &EngineWorker::generationFailed, this, &EngineHost::generationFailed,
            Qt::QueuedConnection);
    thread_.setObjectName(QStringLiteral("ocelle-engine"));
    thread_.start();
}

EngineHost::~EngineHost() {
    wantedLoad_.store(0);
    cancelledThrough_.store(nextRequest_);
    engine_->cancel();
    thread_.quit();
    thread_.wait();
}

quint64 EngineHost::requestLoad(const LoadRequest& request) {
    const quint64 ticket = nextTicket_++;
    wantedLoad_.store(ticket);
    cancel(); // a generation in progress would hold the engine thread
    QMetaObject::invokeMethod(
        worker_,
        [worker = worker_, ticket, request] {
            worker->engine()->resetCancel();
            worker->load(ticket, request);
        },
        Qt::QueuedConnection);
    return ticket;
}

void EngineHost::abandonLoad() {
    wantedLoad_.store(0);
}

void EngineHost::requestUnload() {
    wantedLoad_.store(0);
    cancel();
    QMetaObject::invokeMethod(
        worker_, [worker = worker_] { worker->unload(); }, Qt::QueuedConnection);
}

quint64 EngineHost::requestGenerate(const GenerationRequest& request) {
    const quint64 id = nextRequest_++;
    QMetaObject::invokeMethod(
        worker_, [worker = worker_, id, request] { worker->generate(id, request); }, Qt::QueuedConnection);
    return id;
}

int EngineHost::countTokens(const QString& text) const {
    return engine_->countTokens(text.toStdString());
}

void EngineHost::cancel() {
    cancelledThrough_.store(nextRequest_ - 1);
    engine_->cancel();
}

} // namespace ocelle::app
