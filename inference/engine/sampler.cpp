#include "engine/sampler.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <iterator>
#include <limits>
#include <stdexcept>

namespace ocelle::engine {

namespace {

constexpr size_t kFirstNucleusGuess = 64; // typical nuclei are small; grow by 8x when they are not

// NaN has all exponent bits and a non-zero mantissa: with the sign cleared its bits compare above
// infinity's. Integer compares and ORs vectorise; a float NaN test per element does not.
bool containsNan(std::span<const float> values) {
    uint32_t any = 0;
    for (const float v : values) {
        uint32_t bits;
        std::memcpy(&bits, &v, sizeof bits);
        any |= uint32_t((bits & 0x7fffffffu) > 0x7f800000u);
    }
    return any != 0;
}

// The lowest index holding the largest value. Eight independent running maxima instead of one
// chain of dependent compares, then a scan for the first index that reaches the maximum.
int32_t firstMaximum(std::span<const float> values) {
    constexpr size_t kLanes = 8;
    float lanes[kLanes];
    std::fill(std::begin(lanes), std::end(lanes), values[0]);
    size_t i = 0;
    for (; i + kLanes <= values.size(); i += kLanes)
        for (size_t j = 0; j < kLanes; ++j) lanes[j] = std::max(lanes[j], values[i + j]);
    float maximum = *std::max_element(std::begin(lanes), std::end(lanes));
    for (; i < values.size(); ++i) maximum = std::max(maximum, values[i]);
    return int32_t(std::find(values.begin(), values.end(), maximum) - values.begin());
}

} // namespace

std::string SamplerParams::validate() const {
    if (std::isnan(temperature)) return "temperature is not a number";
    if (!(topP > 0.0f)) return "top-p must be greater than 0";
    if (!(minP <= 1.0f) || std::isnan(minP)) return "min-p must be at most 1";
    if (!(repetitionPenalty > 0.0f)) return "the repetition penalty must be greater than 0";
    if (std::isnan(presencePenalty)) return "the presence penalty is not a number";
    if (penaltyWindow < 0) return "the penalty window must not be negative";
    return {};
}

Sampler::Sampler(const SamplerParams& params) : params_(params), rng_(params.seed) {
    if (std::string problem = params.validate(); !problem.empty())
        throw std::invalid_argument("sampler: " + problem);
}

void Sampler::reset() {
    recent_.clear();
    rng_.seed(params_.seed);
}

void Sampler::accept(int32_t id) {
    if (params_.penaltyWindow == 0) return;
    recent_.push_back(id);
    while (recent_.size() > size_t(params_.penaltyWindow)) recent_.pop_front();
}

int32_t Sampler::sample(std::span<const float> logits) {
    if (logits.empty()) throw std::invalid_argument("sampler: empty logits");
    if (logits.size() > size_t(std::numeric_limits<int32_t>::max()))
        throw std::invalid_argument("sampler: too many logits");
    if (containsNan(logits)) throw std::runtime_error("sampler: the logits contain NaN");

    // Penalties go on a copy, made only when they apply; candidates are only materialised for what
    // survives top-k, because building 262144 of them costs more than the selection itself.
    std::span<const float> values = logits;
    if (penaltiesApply()) {
        adjusted_.assign(logits.begin(), logits.end());
        applyPenalties();
        values = adjusted_;
    }

    if (greedy()) {
        return firstMaximum(values);
    }

    if (params_.topK > 0 && size_t(params_.topK) < values.size()) {
        selectTopK(values, size_t(params_.topK));
    } else {
        candidates_.resize(values.size());
        for (size_t i = 0; i < values.size(); ++i) candidates_[i] = {int32_t(i), values[i]};
        sorted_ = false;
    }
    if (params_.topP < 1.0f) keepTopP(params_.topP);
    if (params_.minP > 0.0f) keepMinP(params_.minP);
    if (params_.temperature != 1.0f)
        for (Candidate& c : candidates_) c.logit /= params_.temperature;
    return draw();
}

bool Sampler::penaltiesApply() const {
    return (params_.repetitionPenalty != 1.0f || params_.presencePenalty != 0.0f) && !recent_.empty();
}

void Sampler::applyPenalties() {
    const bool repetition = params_.repetitionPenalty != 1.0f;
    const bool presence = params_.presencePenalty != 0.0f;
    // Each id is penalised once however often it occurs.
    std::vector<int32_t> seen(recent_.begin(), recent_.end());
    std::sort(seen.begin(), seen.end());
    seen.erase(std::unique(seen.begin(), seen.end()), seen.end());
    for (int32_t id : seen) {
        if (id < 0 || size_t(id) >= adjusted_.size()) continue;
        float& logit = adjusted_[size_t(id)];
        if (repetition)
            logit = logit > 0.0f ? logit / params_.repetitionPenalty : logit * params_.repetitionPenalty;
        if (presence) logit -= params_.presencePenalty;
    }
}

namespace {

// Descending by logit, ties to the lower id: a strict total order, so results never depend on
// the library's sort algorithm.
bool ranksBefore(const auto& a, const auto& b) {
    return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
}

} // namespace

void Sampler::selectTopK(std::span<const float> values, size_t k) {
    // A heap of the k best so far whose front is the worst of them. Ids arrive in increasing order,
    // so a newcomer ranks before the front exactly when its logit is strictly greater.
    auto cmp = [](const Candidate& a, const Candidate& b) { return ranksBefore(a, b); };
    candidates_.clear();
    for (size_t i = 0; i < k; ++i) candidates_.push_back({int32_t(i), values[i]});
    std::make_heap(candidates_.begin(), candidates_.end(), cmp);
    for (size_t i = k; i < values.size(); ++i) {
        if (!(values[i] > candidates_.front().logit)) continue;
        std::pop_heap(candidates_.begin(), candidates_.end(), cmp);
        candidates_.back() = {int32_t(i), values[i]};
        std::push_heap(candidates_.begin(), candidates_.end(), cmp);
    }
    std::sort(candidates_.begin(), candidates_.end(), cmp);
    sorted_ = true;
}

void Sampler::keepTopP(float p) {
    auto cmp = [](const Candidate& a, const Candidate& b) { return ranksBefore(a, b); };
    float maxLogit = -std::numeric_limits<float>::infinity();
    for (const Candidate& c : candidates_) maxLogit = std::max(maxLogit, c.logit);
    // expf in float (accumulated in double) is ~3x faster than double exp over 262144 entries and
    // far more precise than the nucleus boundary needs.
    double total = 0.0;
    for (const Candidate& c : candidates_) total += std::exp(c.logit - maxLogit);

    const size_t n = candidates_.size();
    size_t sortedCount = sorted_ ? n : 0;
    size_t want = sorted_ ? n : std::min(n, kFirstNucleusGuess);
    for (;;) {
        if (sortedCount < want) {
            std::partial_sort(candidates_.begin(), candidates_.begin() + std::ptrdiff_t(want),
                              candidates_.end(), cmp);
            sortedCount = want;
        }
        double cumulative = 0.0;
        for (size_t i = 0; i < sortedCount; ++i) {
            cumulative += std::exp(candidates_[i].logit - maxLogit) / total;
            if (cumulative >= double(p)) {
                candidates_.resize(i + 1);
                sorted_ = true;
                return;
            }
        }
        if (sortedCount == n) break; // rounding kept the sum just below p: keep everything
        want = std::min(n, want * 8);
    }
    sorted_ = true;
}

void Sampler::keepMinP(float minP) {
    float maxLogit = -std::numeric_limits<float>::infinity();
    for (const Candidate& c : candidates_) maxLogit = std::max(maxLogit, c.logit);
    // p_i >= minP * p_max  <=>  logit_i >= max + log(minP); no softmax needed.
    const double threshold = double(maxLogit) + std::log(double(minP));
    std::erase_if(candidates_, [&](const Candidate& c) { return double(c.logit) < threshold; });
}

double Sampler::uniform01() {
    return double(rng_() >> 11) * 0x1.0p-53;
}

int32_t Sampler::draw() {
    float maxLogit = -std::numeric_limits<float>::infinity();
    for (const Candidate& c : candidates_) maxLogit = std::max(maxLogit, c.logit);
    if (maxLogit == -std::numeric_limits<float>::infinity()) {
        // Every remaining logit is -inf (all banned): fall back to the first candidate.
        return candidates_.front().id;
    }
    double total = 0.0;
    for (const Candidate& c : candidates_) total += std::exp(c.logit - maxLogit);
    const double target = uniform01() * total;
    double cumulative = 0.0;
    for (const Candidate& c : candidates_) {
        cumulative += std::exp(c.logit - maxLogit);
        if (target < cumulative) return c.id;
    }
    // Rounding can leave target a hair above the final sum: take the last id with weight.
    for (auto it = candidates_.rbegin(); it != candidates_.rend(); ++it)
        if (it->logit != -std::numeric_limits<float>::infinity()) return it->id;
    return candidates_.back().id;
}

} // namespace ocelle::engine
