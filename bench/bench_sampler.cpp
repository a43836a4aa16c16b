// bench_sampler: what choosing one token costs on Gemma 4's 262144-entry vocabulary, per sampler
// configuration (CPU time per token, best of several rounds, so a shared machine does not inflate it).
#include "engine/sampler.h"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <random>
#include <vector>

using namespace ocelle::engine;

namespace {

double cpuSeconds() {
    timespec t{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return double(t.tv_sec) + double(t.tv_nsec) * 1e-9;
}

struct Config {
    const char* name;
    float temperature;
    int topK;
    float topP;
    float minP;
    float repetitionPenalty;
};

} // namespace

int main() {
    constexpr size_t kVocab = 262144;
    constexpr int kTokens = 200;
    constexpr int kRounds = 5;
    // Logits shaped like a softcapped LM head: mostly within [-30, 30], a few strong candidates.
    std::mt19937 rng(1);
    std::normal_distribution<float> normal(0.0f, 4.0f);
    std::vector<float> logits(kVocab);
    for (float& l : logits) l = std::clamp(normal(rng), -30.0f, 30.0f);
    for (int i = 0; i < 20; ++i) logits[size_t(rng() % kVocab)] = 25.0f + float(i % 5);

    const Config configs[] = {
        {"greedy", 0.0f, 0, 1.0f, 0.0f, 1.0f},
        {"temp 1, no filters", 1.0f, 0, 1.0f, 0.0f, 1.0f},
        {"top-k 64", 1.0f, 64, 1.0f, 0.0f, 1.0f},
        {"top-k 64 + top-p 0.95 (shipped)", 1.0f, 64, 0.95f, 0.0f, 1.0f},
        {"top-p 0.95 alone", 1.0f, 0, 0.95f, 0.0f, 1.0f},
        {"min-p 0.05 alone", 1.0f, 0, 1.0f, 0.05f, 1.0f},
        {"shipped + repetition 1.1", 1.0f, 64, 0.95f, 0.0f, 1.1f},
    };
    std::printf("vocabulary %zu, %d tokens per round, best of %d rounds\n\n", kVocab, kTokens, kRounds);
    std::printf("%-34s %12s\n", "configuration", "us/token");
    for (const Config& c : configs) {
        SamplerParams p;
        p.temperature = c.temperature;
        p.topK = c.topK;
        p.topP = c.topP;
        p.minP = c.minP;
        p.repetitionPenalty = c.repetitionPenalty;
        Sampler sampler(p);
        double best = 1e30;
        for (int round = 0; round < kRounds; ++round) {
            const double start = cpuSeconds();
            for (int i = 0; i < kTokens; ++i) sampler.accept(sampler.sample(logits));
            best = std::min(best, cpuSeconds() - start);
        }
        std::printf("%-34s %12.1f\n", c.name, best / kTokens * 1e6);
    }
    return 0;
}
