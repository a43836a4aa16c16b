// A scripted backend for the engine's tests: no model, but the behaviour the engine relies on.
//
// Logits depend on everything in the cache (ids and soft-token embeddings) through a rolling
// digest, so a session whose cache went wrong (bad prefix reuse, a lost rollback) produces
// different logits from a fresh session fed the same tokens. A script can force the argmax at
// given positions. Evaluation takes `layers` steps of `stepMicroseconds` per token and checks the
// cancel flag between steps, like a real forward pass checks it between layers; tokens are
// committed in micro-batches of `microBatch`, and a cancelled micro-batch is rolled back whole.
#pragma once

#include "engine/backend.h"

#include <chrono>
#include <cmath>
#include <map>
#include <thread>

namespace ocelle::engine::testing {

struct FakeConfig {
    int vocab = 32;
    int embedding = 4;
    int trainedContext = 64;
    int layers = 4;
    int stepMicroseconds = 0;
    int microBatch = 4;
    int maxRollback = 1 << 30;           // truncate() fails when asked to drop more positions than this
    std::map<int, int32_t> forcedArgmax; // position of the token whose logits these are -> id
    size_t weightBytes = 12345;
};

struct FakeCounters {
    std::atomic<int> evaluatedTokens{0}; // read by cancelling threads
    int evaluateCalls = 0;
    int failedTruncates = 0;
};

class FakeSession : public BackendSession {
public:
    FakeSession(const FakeConfig& config, int contextLength, FakeCounters& counters)
        : config_(config), contextLength_(contextLength), counters_(counters) {}

    int contextLength() const override { return contextLength_; }
    int position() const override { return int(digests_.size()); }

    bool evaluate(std::span<const int32_t> ids, std::span<const SoftTokenView> softTokens,
                  const std::atomic<bool>& cancel, std::vector<float>& lastLogits) override {
        counters_.evaluateCalls++;
        if (position() + int(ids.size()) > contextLength_) throw std::logic_error("fake: context overrun");
        for (size_t begin = 0; begin < ids.size(); begin += size_t(config_.microBatch)) {
            const size_t end = std::min(ids.size(), begin + size_t(config_.microBatch));
            for (int layer = 0; layer < config_.layers; ++layer) {
                if (cancel.load()) return false; // the micro-batch in flight is dropped
                if (config_.stepMicroseconds > 0)
                    std::this_thread::sleep_for(
                        std::chrono::microseconds(config_.stepMicroseconds * int(end - begin)));
            }
            for (size_t i = begin; i < end; ++i) {
                uint64_t contribution = uint64_t(uint32_t(ids[i])) + 1;
                for (const SoftTokenView& s : softTokens)
                    if (int(i) >= s.first && int(i) < s.first + s.count)
                        for (int k = 0; k < config_.embedding; ++k)
                            contribution += uint64_t(std::lround(
                                1000 * s.embeddings[size_t(int(i) - s.first) * size_t(config_.embedding) +
                                                    size_t(k)]));
                const uint64_t previous = digests_.empty() ? 7 : digests_.back();
                digests_.push_back(previous * 6364136223846793005ull + contribution * 1442695040888963407ull);
                counters_.evaluatedTokens++;
            }
        }
        lastLogits = logitsAt(position() - 1);
        return true;
    }

    bool truncate(int newPosition) override {
        if (newPosition < 0 || newPosition > position()) throw std::logic_error("fake: bad truncate");
        if (newPosition != 0 && position() - newPosition > config_.maxRollback) {
            counters_.failedTruncates++;
            return false;
        }
        digests_.resize(size_t(newPosition));
        return true;
    }

    size_t memoryBytes() const override { return size_t(contextLength_) * 100; }

    // The logits produced by the token at `pos` given everything before it.
    std::vector<float> logitsAt(int pos) const {
        std::vector<float> logits(size_t(config_.vocab));
        uint64_t d = digests_[size_t(pos)];
        for (float& l : logits) {
            d = d * 6364136223846793005ull + 1442695040888963407ull;
            l = float((d >> 40) % 1000) / 100.0f; // 0 .. 9.99
        }
        if (auto it = config_.forcedArgmax.find(pos); it != config_.forcedArgmax.end())
            logits[size_t(it->second)] = 20.0f;
        return logits;
    }

private:
    FakeConfig config_;
    int contextLength_;
    FakeCounters& counters_;
    std::vector<uint64_t> digests_;
};

class FakeBackend : public Backend {
public:
    FakeBackend(FakeConfig config, std::shared_ptr<FakeCounters> counters)
        : config_(std::move(config)), counters_(std::move(counters)) {}

    std::string name() const override { return "fake"; }
    int vocabSize() const override { return config_.vocab; }
    int embeddingLength() const override { return config_.embedding; }
    int trainedContextLength() const override { return config_.trainedContext; }
    size_t memoryBytes() const override { return config_.weightBytes; }
    std::unique_ptr<BackendSession> createSession(const SessionOptions& options) override {
        return std::make_unique<FakeSession>(config_, options.contextLength, *counters_);
    }

private:
    FakeConfig config_;
    std::shared_ptr<FakeCounters> counters_;
};

} // namespace ocelle::engine::testing
