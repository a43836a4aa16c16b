// A ChatEngine for tests: it "loads" any path (or refuses paths containing "unloadable"), and
// answers with a fixed script of reasoning/answer pieces, optionally pausing between them so a
// test can stop it midway. It records the requests it got and the thread it ran on.
#pragma once

#include "chat_engine.h"

#include <QThread>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

class ScriptedChatEngine : public ocelle::app::ChatEngine {
public:
    struct Shared {
        std::mutex mutex;
        std::vector<ocelle::app::GenerationRequest> requests;
        std::vector<ocelle::app::LoadRequest> loadRequests;
        QThread* generateThread = nullptr;
        std::atomic<int> loadMilliseconds{0};
    };

    ScriptedChatEngine(std::vector<ocelle::app::StreamDelta> script, std::shared_ptr<Shared> shared,
                       int pauseMilliseconds = 0)
        : script_(std::move(script)), shared_(std::move(shared)), pauseMs_(pauseMilliseconds) {}

    // Reports progress evenly over loadMilliseconds, stopping when the progress callback says so.
    ocelle::app::LoadedModelFacts load(const ocelle::app::LoadRequest& request,
                                       const ocelle::app::LoadProgress& progress) override {
        {
            std::lock_guard lock(shared_->mutex);
            shared_->loadRequests.push_back(request);
        }
        const auto start = std::chrono::steady_clock::now();
        const auto duration = std::chrono::milliseconds(shared_->loadMilliseconds.load());
        for (;;) {
            const auto elapsed = std::chrono::steady_clock::now() - start;
            const double fraction =
                duration.count() > 0 ? std::min(1.0, std::chrono::duration<double>(elapsed) / duration) : 1.0;
            if (progress && !progress(fraction)) throw ocelle::app::LoadCancelled("scripted load stopped");
            if (fraction >= 1.0) break;
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
        if (request.modelPath.find("unloadable") != std::string::npos)
            throw ocelle::app::EngineError(request.modelPath + ": scripted failure");
        loaded_ = true;
        return {"CPU", "scripted", false, 2048, 1000};
    }
    void unload() override { loaded_ = false; }
    bool loaded() const override { return loaded_; }

    ocelle::app::GenerationOutcome
    generate(const ocelle::app::GenerationRequest& request,
             const std::function<void(const ocelle::app::StreamDelta&)>& onDelta) override {
        {
            std::lock_guard lock(shared_->mutex);
            shared_->requests.push_back(request);
            shared_->generateThread = QThread::currentThread();
        }
        ocelle::app::GenerationOutcome outcome;
        int emitted = 0;
        for (const auto& piece : script_) {
            if (cancelled_.load()) {
                outcome.ending = ocelle::app::GenerationOutcome::Ending::Stopped;
                outcome.message = "Stopped.";
                break;
            }
            onDelta(piece);
            ++emitted;
            if (pauseMs_ > 0) std::this_thread::sleep_for(std::chrono::milliseconds(pauseMs_));
        }
        outcome.generatedTokens = emitted;
        outcome.promptTokens = 0;
        for (const auto& turn : request.turns) outcome.promptTokens += countTokens(turn.text);
        outcome.timeToFirstTokenSeconds = 0.001;
        outcome.tokensPerSecond = 1000;
        return outcome;
    }
    // One token per word: easy to reason about in context tests.
    int countTokens(const std::string& text) const override {
        int words = 0;
        bool inWord = false;
        for (char c : text) {
            const bool space = c == ' ' || c == '\n' || c == '\t';
            if (!space && !inWord) ++words;
            inWord = !space;
        }
        return loaded_ ? words : 0;
    }
    void cancel() noexcept override { cancelled_.store(true); }
    void resetCancel() noexcept override { cancelled_.store(false); }

private:
    std::vector<ocelle::app::StreamDelta> script_;
    std::shared_ptr<Shared> shared_;
    int pauseMs_;
    std::atomic<bool> loaded_{false};
    std::atomic<bool> cancelled_{false};
};
