// Choosing the next token from a row of logits.
//
// The steps run in this fixed order (llama.cpp's default chain is the model for it):
//   1. penalties   repetition (divide positive logits by r, multiply negative ones by r) and presence
//                  (subtract once) for every id seen in the last `penaltyWindow` accepted tokens;
//   2. top-k       keep the k largest logits;
//   3. top-p       keep the smallest set of largest-probability ids whose probabilities (softmax at
//                  temperature 1) sum to at least p;
//   4. min-p       keep ids whose probability is at least min_p times the largest one;
//   5. temperature divide the remaining logits by T;
//   6. sample      draw from the softmax of what is left with the sampler's own random generator.
// A temperature <= 0 means greedy: the largest logit after the penalties, ties to the lowest id.
// Ties in every ranking go to the lower id, so the same seed gives the same tokens on every platform.
//
// Cost per token on a 262144-entry vocabulary: one pass over the logits (a copy only with penalties), one
// heap selection pass for top-k, a partial sort that grows only as far as the nucleus reaches for top-p;
// never a full sort.
#pragma once

#include <cstdint>
#include <deque>
#include <random>
#include <span>
#include <string>
#include <unordered_set>
#include <vector>

namespace ocelle::engine {

struct SamplerParams {
    float temperature = 1.0f;       // <= 0: greedy
    int topK = 64;                  // <= 0: off
    float topP = 0.95f;             // >= 1: off
    float minP = 0.0f;              // <= 0: off
    float repetitionPenalty = 1.0f; // 1: off; > 1 discourages repeats
    float presencePenalty = 0.0f;   // 0: off; > 0 discourages repeats
    int penaltyWindow = 64;         // how many recent tokens the penalties look at
    uint64_t seed = 0;

    // An empty string when the values are usable, otherwise what is wrong with them.
    std::string validate() const;
};

class Sampler {
public:
    explicit Sampler(const SamplerParams& params); // throws std::invalid_argument on bad params

    // The next token for this row of logits (one entry per vocabulary id). Does not record it:
    // call accept() with the token that is actually used, so the penalties see it.
    int32_t sample(std::span<const float> logits);

    // Records a token in the penalty window (prompt tokens may be accepted too).
    void accept(int32_t id);

    // Forgets the penalty window and restarts the random sequence from the seed.
    void reset();

    const SamplerParams& params() const { return params_; }
    bool greedy() const { return params_.temperature <= 0.0f; }

private:
    struct Candidate {
        int32_t id;
        float logit;
    };

    bool penaltiesApply() const;
    void applyPenalties(); // on adjusted_
    void selectTopK(std::span<const float> values, size_t k);
    void keepTopP(float p);
    void keepMinP(float minP);
    int32_t draw();
    double uniform01(); // [0, 1) from 53 bits of mt19937_64, the same with every standard library

    SamplerParams params_;
    std::mt19937_64 rng_;
    std::deque<int32_t> recent_;
    std::vector<float> adjusted_;       // the logits after penalties, when they apply (scratch)
    std::vector<Candidate> candidates_; // what is still in the running (scratch, reused)
    bool sorted_ = false;               // candidates_ is in descending logit order
};

// When generation stops on its own: a stop token was sampled or the budget is spent.
struct StopConditions {
    std::unordered_set<int32_t> stopIds; // eos, <turn|>, <|tool_response>: looked up by the caller
    int maxTokens = 0;                   // <= 0: no limit besides the context

    bool isStop(int32_t id) const { return stopIds.count(id) != 0; }
};

} // namespace ocelle::engine
