#include "cpu/cpu_model.h"

#include "cpu/kernels.h"
#include "cpu/matmul.h"
#include "gguf/dequant.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace ocelle::cpu {

using model::AttentionPlan;
using model::KvType;
using model::LayerPlan;
using model::ModelPlan;

namespace {

// x / sqrt(mean(x^2) + eps), times w when given. fp32 throughout.
void rmsNorm(const float* x, const float* w, float* out, int64_t n, float eps) {
    const float sumSquares = kernels().dotF32(x, x, n);
    const float scale = 1.0f / std::sqrt(sumSquares / static_cast<float>(n) + eps);
    if (w)
        for (int64_t i = 0; i < n; ++i) out[i] = x[i] * scale * w[i];
    else
        for (int64_t i = 0; i < n; ++i) out[i] = x[i] * scale;
}

// Split-half ("NeoX") rotation: dimension i pairs with i + ropeDims/2.
void applyRope(float* v, int ropeDims, const float* cosines, const float* sines) {
    const int half = ropeDims / 2;
    for (int i = 0; i < half; ++i) {
        const float x0 = v[i], x1 = v[i + half];
        v[i] = x0 * cosines[i] - x1 * sines[i];
        v[i + half] = x0 * sines[i] + x1 * cosines[i];
    }
}

struct RopeTable {
    int ropeDims = 0;
    std::vector<float> cosines, sines; // [token][ropeDims/2]
};

// Angles pos * base^(-2i/ropeDims) / factor_i, computed in double (positions reach 10^5).
void buildRope(RopeTable& table, const AttentionPlan& a, const std::vector<float>& factors, int64_t p0,
               int64_t tokens) {
    const int half = a.ropeDims / 2;
    table.ropeDims = a.ropeDims;
    table.cosines.resize(static_cast<size_t>(tokens * half));
    table.sines.resize(static_cast<size_t>(tokens * half));
    for (int64_t t = 0; t < tokens; ++t)
        for (int i = 0; i < half; ++i) {
            double theta = static_cast<double>(p0 + t) * std::pow(static_cast<double>(a.ropeBase),
                                                                  -2.0 * i / static_cast<double>(a.ropeDims));
            if (a.ropeUsesFreqFactors) theta /= static_cast<double>(factors[static_cast<size_t>(i)]);
            table.cosines[static_cast<size_t>(t * half + i)] = static_cast<float>(std::cos(theta));
            table.sines[static_cast<size_t>(t * half + i)] = static_cast<float>(std::sin(theta));
        }
}

// One layer's cache: K and V rows of nHeadKv * headDim values, in `slots` slots. Full layers keep
// every position (slot = position); sliding layers a ring (slot = position % slots).
struct KvCache {
    int64_t slots = 0;
    int64_t width = 0;
    bool sliding = false;
    KvType type = KvType::F32;
    // Left uninitialised on purpose: only written slots are ever read, and untouched pages of a
    // long context cost no memory until the conversation reaches them.
    std::unique_ptr<float[]> k32, v32;
    std::unique_ptr<uint16_t[]> k16, v16;

    size_t bytes() const { return static_cast<size_t>(slots * width) * 2 * (type == KvType::F32 ? 4 : 2); }
};

// Positions [lo, hi) a query at `position` attends over on this layer.
inline int64_t windowStart(const AttentionPlan& a, int64_t position) {
    return a.sliding ? std::max<int64_t>(0, position - a.window + 1) : 0;
}

template <typename T> T& grow(std::vector<T>& v, int64_t n) {
    if (static_cast<int64_t>(v.size()) < n) v.resize(static_cast<size_t>(n));
    return v.front();
}

void checkCancel(const std::atomic<bool>* cancel) {
    if (cancel && cancel->load(std::memory_order_relaxed)) throw Cancelled("evaluation cancelled");
}

} // namespace

// ---- CpuModel ----

CpuModel::CpuModel(std::unique_ptr<model::Model> model, int threads)
    : model_(std::move(model)), pool_(threads) {}
CpuModel::~CpuModel() = default;

std::unique_ptr<CpuModel> CpuModel::load(const std::string& path, int threads) {
    return std::make_unique<CpuModel>(model::Model::load(path), threads);
}

std::unique_ptr<CpuSession> CpuModel::createSession(const SessionOptions& options) const {
    return std::unique_ptr<CpuSession>(new CpuSession(*this, options));
}

// ---- CpuSession ----

struct CpuSession::Impl {
    const ModelPlan& plan;
    ThreadPool& pool;
    std::vector<KvCache> caches;

    // Working buffers of one pass, [token][width] each; kept between passes.
    std::vector<float> x, normed, q, attn, proj, gate, up, expertIn, expertOut, moeAcc, dense, routerLogits;
    std::vector<float> perLayerInputs, perLayerTokens;
    std::vector<std::vector<float>> batchK, batchV; // per cache: this pass's K/V, committed at the end
    // Per token of the pass: the last position it sees on sliding layers (its own position unless
    // it belongs to a bidirectional soft-token span).
    std::vector<int64_t> slidingReach;
    RopeTable ropeSliding, ropeFull;

    Impl(const ModelPlan& p, ThreadPool& threadPool) : plan(p), pool(threadPool) {}

    void forward(std::span<const int32_t> ids, int64_t p0, std::span<const SoftTokens> soft,
                 int64_t softOffset, LogitsFor logits, std::vector<float>& logitsOut,
                 const std::atomic<bool>* cancel);
    void embed(std::span<const int32_t> ids, std::span<const SoftTokens> soft, int64_t softOffset,
               std::vector<char>& isSoft);
    void perLayerInputsFor(std::span<const int32_t> ids, const std::vector<char>& isSoft);
    void attentionBlock(const LayerPlan& layer, int64_t tokens, int64_t p0);
    void attend(const AttentionPlan& a, int64_t tokens, int64_t p0);
    void denseFfn(const LayerPlan& layer, int64_t tokens, float* out);
    void moeBlock(const LayerPlan& layer, int64_t tokens);
    void expertsForOneToken(const model::MoePlan& m,
                            const std::vector<std::vector<std::pair<int64_t, float>>>& byExpert,
                            const float* input);
    void perLayerInputBlock(const LayerPlan& layer, int64_t tokens);
    void commit(int64_t tokens, int64_t p0);
};

CpuSession::CpuSession(const CpuModel& model, const SessionOptions& options)
    : model_(model), options_(options), impl_(std::make_unique<Impl>(model.model().plan(), model.pool_)) {
    if (options_.contextLength < 1) throw std::invalid_argument("context length must be at least 1");
    if (options_.maxBatch < 1) throw std::invalid_argument("maxBatch must be at least 1");
    if (options_.slidingSlack < 0) throw std::invalid_argument("slidingSlack must not be negative");
    const auto& plan = impl_->plan;
    for (int owner : plan.cacheOwners) {
        const auto& a = plan.layers[static_cast<size_t>(owner)].attention;
        KvCache c;
        c.sliding = a.sliding;
        c.width = int64_t(a.nHeadKv) * a.headDim;
        c.slots = a.sliding
                      ? std::min<int64_t>(options_.contextLength, int64_t(a.window) + options_.slidingSlack)
                      : options_.contextLength;
        c.type = options_.kvType;
        const auto n = static_cast<size_t>(c.slots * c.width);
        if (c.type == KvType::F32) {
            c.k32.reset(new float[n]);
            c.v32.reset(new float[n]);
        } else {
            c.k16.reset(new uint16_t[n]);
            c.v16.reset(new uint16_t[n]);
        }
        impl_->caches.push_back(std::move(c));
    }
    impl_->batchK.resize(impl_->caches.size());
    impl_->batchV.resize(impl_->caches.size());
}

CpuSession::~CpuSession() = default;

int CpuSession::nVocab() const {
    return impl_->plan.hp.nVocab;
}

size_t CpuSession::memoryBytes() const {
    size_t bytes = 0;
    for (const auto& c : impl_->caches) bytes += c.bytes();
    for (const auto* v : {&impl_->x, &impl_->normed, &impl_->q, &impl_->attn, &impl_->proj, &impl_->gate,
                          &impl_->up, &impl_->expertIn, &impl_->expertOut, &impl_->moeAcc, &impl_->dense,
                          &impl_->routerLogits, &impl_->perLayerInputs, &impl_->perLayerTokens})
        bytes += v->capacity() * sizeof(float);
    for (size_t c = 0; c < impl_->batchK.size(); ++c)
        bytes += (impl_->batchK[c].capacity() + impl_->batchV[c].capacity()) * sizeof(float);
    return bytes;
}

bool CpuSession::canTruncateTo(int64_t newPosition) const {
    if (newPosition < 0 || newPosition > position_) return false;
    if (newPosition == position_ || newPosition == 0) return true;
    for (size_t c = 0; c < impl_->caches.size(); ++c) {
        const auto& cache = impl_->caches[c];
        if (!cache.sliding) continue;
        const auto& a = impl_->plan.layers[static_cast<size_t>(impl_->plan.cacheOwners[c])].attention;
        // The next query (at newPosition) needs [newPosition - W + 1, newPosition); the ring holds
        // the last `slots` positions before position_.
        const int64_t needed = std::max<int64_t>(0, newPosition - a.window + 1);
        const int64_t held = std::max<int64_t>(0, position_ - cache.slots);
        if (needed < held) return false;
    }
    return true;
}

void CpuSession::truncate(int64_t newPosition) {
    if (!canTruncateTo(newPosition))
        throw std::invalid_argument(
            "cannot truncate the session from position " + std::to_string(position_) + " to " +
            std::to_string(newPosition) +
            ": the sliding-window cache no longer holds the positions needed (reset and "
            "prefill the kept tokens again)");
    position_ = newPosition;
}

std::vector<float> CpuSession::decode(int32_t id) {
    return prefill(std::span<const int32_t>(&id, 1), LogitsFor::Last);
}

std::vector<float> CpuSession::prefill(std::span<const int32_t> ids, LogitsFor logits,
                                       std::span<const SoftTokens> softTokens) {
    const auto& hp = impl_->plan.hp;
    const auto count = static_cast<int64_t>(ids.size());
    if (count == 0) return {};
    if (position_ + count > options_.contextLength)
        throw ContextFull("the context is full: " + std::to_string(position_) + " of " +
                          std::to_string(options_.contextLength) + " positions are used, " +
                          std::to_string(count) + " more do not fit");
    for (int32_t id : ids)
        if (id < 0 || id >= hp.nVocab)
            throw std::invalid_argument("token id " + std::to_string(id) + " is outside the vocabulary (0.." +
                                        std::to_string(hp.nVocab - 1) + ")");
    for (const auto& s : softTokens)
        if (s.first < 0 || s.count < 0 || s.first + s.count > count ||
            static_cast<int64_t>(s.embeddings.size()) != s.count * hp.nEmbd)
            throw std::invalid_argument("soft tokens at " + std::to_string(s.first) + " (+" +
                                        std::to_string(s.count) + ") do not fit the " +
                                        std::to_string(count) + " ids or are not " +
                                        std::to_string(hp.nEmbd) + " values wide");

    std::vector<float> result;
    if (logits == LogitsFor::All) result.reserve(static_cast<size_t>(count) * static_cast<size_t>(hp.nVocab));
    for (int64_t start = 0, n = 0; start < count; start += n) {
        n = std::min<int64_t>(options_.maxBatch, count - start);
        // A bidirectional span must be in one pass: end the pass before it, or stretch it over it.
        for (const auto& s : softTokens)
            if (s.bidirectional && s.first < start + n && start + n < s.first + s.count)
                n = s.first > start ? s.first - start : s.first + s.count - start;
        const bool last = start + n == count;
        const LogitsFor wanted = logits == LogitsFor::All              ? LogitsFor::All
                                 : (logits == LogitsFor::Last && last) ? LogitsFor::Last
                                                                       : LogitsFor::None;
        std::vector<float> passLogits;
        impl_->forward(ids.subspan(static_cast<size_t>(start), static_cast<size_t>(n)), position_, softTokens,
                       start, wanted, passLogits, cancel_);
        position_ += n; // the pass is committed
        // A single pass (every decode step) hands its logits over without a copy: an n_vocab copy
        // per token cost a second 1 MB buffer, and the heap trimmed and faulted both in again every
        // token (~17% of ocelle-cli bench's MoE decode samples in memset/memmove/page faults).
        if (start == 0 && last)
            result = std::move(passLogits);
        else
            result.insert(result.end(), passLogits.begin(), passLogits.end());
    }
    return result;
}

// ---- the forward pass ----

void CpuSession::Impl::embed(std::span<const int32_t> ids, std::span<const SoftTokens> soft,
                             int64_t softOffset, std::vector<char>& isSoft) {
    const auto& hp = plan.hp;
    const int64_t E = hp.nEmbd;
    const auto tokens = static_cast<int64_t>(ids.size());
    const float scale = std::sqrt(static_cast<float>(E));
    const auto& table = plan.tokenEmbedding;
    isSoft.assign(static_cast<size_t>(tokens), 0);
    pool.parallelFor(tokens, [&](int64_t begin, int64_t end) {
        for (int64_t t = begin; t < end; ++t) {
            float* row = x.data() + t * E;
            gguf::dequantizeRow(
                table.type, table.data + static_cast<uint64_t>(ids[static_cast<size_t>(t)]) * table.rowBytes,
                row, E);
            for (int64_t i = 0; i < E; ++i) row[i] *= scale;
        }
    });
    // Soft tokens replace rows after the scaling and are not scaled themselves.
    for (const auto& s : soft)
        for (int64_t i = 0; i < s.count; ++i) {
            const int64_t t = s.first + i - softOffset;
            if (t < 0 || t >= tokens) continue;
            std::copy_n(s.embeddings.data() + i * E, E, x.data() + t * E);
            isSoft[static_cast<size_t>(t)] = 1;
        }
}

// P[t][l] = (norm(C[t][l], per_layer_proj_norm) + T[t][l]) / sqrt(2) with
// C = per_layer_model_proj . h / sqrt(n_embd) and T = per_layer_token_embd[id] * sqrt(D).
void CpuSession::Impl::perLayerInputsFor(std::span<const int32_t> ids, const std::vector<char>& isSoft) {
    const auto& hp = plan.hp;
    const int64_t D = hp.perLayerInputDim;
    const int64_t L = hp.nLayer;
    const int64_t E = hp.nEmbd;
    const auto tokens = static_cast<int64_t>(ids.size());
    grow(perLayerInputs, tokens * L * D);
    grow(perLayerTokens, tokens * L * D);
    matmul(pool, plan.perLayerModelProjection, x.data(), tokens, perLayerInputs.data());
    const float projScale = 1.0f / std::sqrt(static_cast<float>(E));
    const float tokenScale = std::sqrt(static_cast<float>(D));
    const float mixScale = 1.0f / std::sqrt(2.0f);
    const auto& table = plan.perLayerTokenEmbedding;
    pool.parallelFor(tokens, [&](int64_t begin, int64_t end) {
        for (int64_t t = begin; t < end; ++t) {
            const int32_t id = isSoft[static_cast<size_t>(t)] ? 0 : ids[static_cast<size_t>(t)];
            float* tok = perLayerTokens.data() + t * L * D;
            gguf::dequantizeRow(table.type, table.data + static_cast<uint64_t>(id) * table.rowBytes, tok,
                                L * D);
            float* proj = perLayerInputs.data() + t * L * D;
            for (int64_t i = 0; i < L * D; ++i) proj[i] *= projScale;
            for (int64_t l = 0; l < L; ++l) {
                float* slice = proj + l * D;
                rmsNorm(slice, plan.perLayerProjectionNorm.data(), slice, D, hp.rmsEps);
                for (int64_t i = 0; i < D; ++i)
                    slice[i] = (slice[i] + tok[l * D + i] * tokenScale) * mixScale;
            }
        }
    });
}

void CpuSession::Impl::attend(const AttentionPlan& a, int64_t tokens, int64_t p0) {
    const Kernels& k = kernels();
    const int64_t hd = a.headDim;
    const int64_t qWidth = int64_t(a.nHead) * hd;
    const int group = a.nHead / a.nHeadKv;
    const KvCache& cache = caches[static_cast<size_t>(a.cacheIndex)];
    const float* currentK = batchK[static_cast<size_t>(a.cacheIndex)].data();
    const float* currentV = batchV[static_cast<size_t>(a.cacheIndex)].data();
    pool.parallelFor(tokens * a.nHead, [&](int64_t begin, int64_t end) {
        thread_local std::vector<float> scores;
        for (int64_t item = begin; item < end; ++item) {
            const int64_t t = item / a.nHead;
            const int64_t head = item % a.nHead;
            const int64_t kvHead = head / group;
            const int64_t position = p0 + t;
            const int64_t lo = windowStart(a, position);
            // Later keys (bidirectional soft tokens, sliding layers only) are all in this pass.
            const int64_t hi = a.sliding ? slidingReach[static_cast<size_t>(t)] : position;
            const int64_t n = hi - lo + 1;
            grow(scores, n);
            const float* qh = q.data() + t * qWidth + head * hd;
            float maxScore = -INFINITY;
            for (int64_t j = lo; j <= hi; ++j) {
                float s;
                if (j >= p0) {
                    s = k.dotF32(currentK + (j - p0) * cache.width + kvHead * hd, qh, hd);
                } else {
                    const int64_t at = (j % cache.slots) * cache.width + kvHead * hd;
                    s = cache.type == KvType::F32 ? k.dotF32(cache.k32.get() + at, qh, hd)
                                                  : k.dotF16(cache.k16.get() + at, qh, hd);
                }
                scores[static_cast<size_t>(j - lo)] = s; // scale 1.0: q/k norms replace 1/sqrt(d)
                maxScore = std::max(maxScore, s);
            }
            float sum = 0;
            for (int64_t j = 0; j < n; ++j) {
                scores[static_cast<size_t>(j)] = std::exp(scores[static_cast<size_t>(j)] - maxScore);
                sum += scores[static_cast<size_t>(j)];
            }
            const float inv = 1.0f / sum;
            float* out = attn.data() + t * qWidth + head * hd;
            std::fill_n(out, hd, 0.0f);
            for (int64_t j = lo; j <= hi; ++j) {
                const float w = scores[static_cast<size_t>(j - lo)] * inv;
                if (j >= p0) {
                    k.axpyF32(w, currentV + (j - p0) * cache.width + kvHead * hd, out, hd);
                } else {
                    const int64_t at = (j % cache.slots) * cache.width + kvHead * hd;
                    if (cache.type == KvType::F32)
                        k.axpyF32(w, cache.v32.get() + at, out, hd);
                    else
                        k.axpyF16(w, cache.v16.get() + at, out, hd);
                }
            }
        }
    });
}

void CpuSession::Impl::attentionBlock(const LayerPlan& layer, int64_t tokens, int64_t p0) {
    const auto& hp = plan.hp;
    const int64_t E = hp.nEmbd;
    const auto& a = layer.attention;
    const int64_t hd = a.headDim;
    const int64_t qWidth = int64_t(a.nHead) * hd;
    const int64_t kvWidth = int64_t(a.nHeadKv) * hd;
    const RopeTable& rope = a.sliding ? ropeSliding : ropeFull;
    const int half = a.ropeDims / 2;

    pool.parallelFor(tokens, [&](int64_t b, int64_t e) {
        for (int64_t t = b; t < e; ++t)
            rmsNorm(x.data() + t * E, layer.attnNorm.data(), normed.data() + t * E, E, hp.rmsEps);
    });
    if (!a.ownsKv) {
        matmul(pool, a.q, normed.data(), tokens, q.data());
    } else {
        auto& bk = batchK[static_cast<size_t>(a.cacheIndex)];
        auto& bv = batchV[static_cast<size_t>(a.cacheIndex)];
        grow(bk, tokens * kvWidth);
        grow(bv, tokens * kvWidth);
        // Q, K and V read the same input: one parallel region where that pays.
        const MatmulJob qkv[] = {{&a.q, normed.data(), q.data()},
                                 {&a.k, normed.data(), bk.data()},
                                 {&a.v, normed.data(), bv.data()}};
        matmuls(pool, std::span(qkv, a.valueFromKey ? 2 : 3), tokens);
        if (a.valueFromKey) std::copy_n(bk.data(), tokens * kvWidth, bv.data()); // V is the raw K projection
        const bool roundToF16 = caches[static_cast<size_t>(a.cacheIndex)].type == KvType::F16;
        pool.parallelFor(tokens, [&](int64_t b, int64_t e) {
            std::vector<uint16_t> halves(static_cast<size_t>(kvWidth));
            for (int64_t t = b; t < e; ++t) {
                for (int64_t h = 0; h < a.nHeadKv; ++h) {
                    float* kh = bk.data() + t * kvWidth + h * hd;
                    rmsNorm(kh, a.kNorm.data(), kh, hd, hp.rmsEps);
                    applyRope(kh, a.ropeDims, rope.cosines.data() + t * half, rope.sines.data() + t * half);
                    float* vh = bv.data() + t * kvWidth + h * hd;
                    rmsNorm(vh, nullptr, vh, hd, hp.rmsEps);
                }
                if (roundToF16) {
                    // Keep this pass's K/V exactly as the cache will hold them, so results do not
                    // depend on how tokens were batched.
                    for (float* row : {bk.data() + t * kvWidth, bv.data() + t * kvWidth}) {
                        kernels().toF16(row, halves.data(), kvWidth);
                        for (int64_t i = 0; i < kvWidth; ++i)
                            row[i] = gguf::fp16ToFloat(halves[static_cast<size_t>(i)]);
                    }
                }
            }
        });
    }
    pool.parallelFor(tokens * a.nHead, [&](int64_t b, int64_t e) {
        for (int64_t item = b; item < e; ++item) {
            const int64_t t = item / a.nHead;
            float* qh = q.data() + t * qWidth + (item % a.nHead) * hd;
            rmsNorm(qh, a.qNorm.data(), qh, hd, hp.rmsEps);
            applyRope(qh, a.ropeDims, rope.cosines.data() + t * half, rope.sines.data() + t * half);
        }
    });
    attend(a, tokens, p0);
    matmul(pool, a.output, attn.data(), tokens, proj.data());
    pool.parallelFor(tokens, [&](int64_t b, int64_t e) {
        std::vector<float> tmp(static_cast<size_t>(E));
        for (int64_t t = b; t < e; ++t) {
            rmsNorm(proj.data() + t * E, layer.postAttentionNorm.data(), tmp.data(), E, hp.rmsEps);
            float* row = x.data() + t * E;
            for (int64_t i = 0; i < E; ++i) row[i] += tmp[static_cast<size_t>(i)];
        }
    });
}

// out = Wdown(gelu(Wgate n) * (Wup n)) with n = norm(x, ffn_norm) (not yet post-normed).
void CpuSession::Impl::denseFfn(const LayerPlan& layer, int64_t tokens, float* out) {
    const auto& hp = plan.hp;
    const int64_t E = hp.nEmbd;
    const int64_t F = layer.ffn.width;
    pool.parallelFor(tokens, [&](int64_t b, int64_t e) {
        for (int64_t t = b; t < e; ++t)
            rmsNorm(x.data() + t * E, layer.ffnNorm.data(), normed.data() + t * E, E, hp.rmsEps);
    });
    const MatmulJob gateUp[] = {{&layer.ffn.gate, normed.data(), gate.data()},
                                {&layer.ffn.up, normed.data(), up.data()}};
    matmuls(pool, gateUp, tokens);
    pool.parallelFor(
        tokens * F,
        [&](int64_t b, int64_t e) {
            kernels().geluMul(gate.data() + b, up.data() + b, gate.data() + b, e - b);
        },
        4096);
    matmul(pool, layer.ffn.down, gate.data(), tokens, out);
}

void CpuSession::Impl::moeBlock(const LayerPlan& layer, int64_t tokens) {
    const auto& hp = plan.hp;
    const auto& m = *layer.moe;
    const int64_t E = hp.nEmbd;
    const int64_t X = m.nExpert;
    const int64_t F = m.width;

    // Dense branch, post-normed with post_ffw_norm_1.
    denseFfn(layer, tokens, dense.data());
    for (int64_t t = 0; t < tokens; ++t)
        rmsNorm(dense.data() + t * E, m.postNorm1.data(), dense.data() + t * E, E, hp.rmsEps);

    // Router on the raw residual: rms(h1) / sqrt(n_embd) * scale.
    const float routerScale = 1.0f / std::sqrt(static_cast<float>(E));
    for (int64_t t = 0; t < tokens; ++t) {
        float* r = normed.data() + t * E;
        rmsNorm(x.data() + t * E, nullptr, r, E, hp.rmsEps);
        for (int64_t i = 0; i < E; ++i) r[i] *= routerScale * m.routerScale[static_cast<size_t>(i)];
    }
    matmul(pool, m.router, normed.data(), tokens, routerLogits.data());

    // Softmax over all experts, keep the top k, renormalise their weights.
    std::vector<std::vector<std::pair<int64_t, float>>> byExpert(static_cast<size_t>(X)); // (token, weight)
    std::vector<int64_t> order(static_cast<size_t>(X));
    for (int64_t t = 0; t < tokens; ++t) {
        const float* logits = routerLogits.data() + t * X;
        const float maxLogit = *std::max_element(logits, logits + X);
        std::vector<float> p(static_cast<size_t>(X));
        float sum = 0;
        for (int64_t i = 0; i < X; ++i) sum += p[static_cast<size_t>(i)] = std::exp(logits[i] - maxLogit);
        for (auto& v : p) v /= sum;
        std::iota(order.begin(), order.end(), 0);
        std::partial_sort(order.begin(), order.begin() + m.nUsed, order.end(), [&](int64_t a, int64_t b) {
            return p[static_cast<size_t>(a)] > p[static_cast<size_t>(b)] ||
                   (p[static_cast<size_t>(a)] == p[static_cast<size_t>(b)] && a < b);
        });
        float chosen = 0;
        for (int i = 0; i < m.nUsed; ++i) chosen += p[static_cast<size_t>(order[static_cast<size_t>(i)])];
        for (int i = 0; i < m.nUsed; ++i) {
            const int64_t ex = order[static_cast<size_t>(i)];
            byExpert[static_cast<size_t>(ex)].emplace_back(t, p[static_cast<size_t>(ex)] / chosen);
        }
    }

    // Experts read norm(h1, pre_ffw_norm_2); each runs once over the tokens routed to it.
    std::vector<float> expertNormed(static_cast<size_t>(tokens * E));
    for (int64_t t = 0; t < tokens; ++t)
        rmsNorm(x.data() + t * E, m.preNorm2.data(), expertNormed.data() + t * E, E, hp.rmsEps);
    grow(moeAcc, tokens * E);
    std::fill_n(moeAcc.data(), tokens * E, 0.0f);
    if (tokens == 1) expertsForOneToken(m, byExpert, expertNormed.data());
    for (int64_t ex = 0; ex < X && tokens > 1; ++ex) {
        const auto& routed = byExpert[static_cast<size_t>(ex)];
        if (routed.empty()) continue;
        const auto n = static_cast<int64_t>(routed.size());
        grow(expertIn, n * E);
        for (int64_t i = 0; i < n; ++i)
            std::copy_n(expertNormed.data() + routed[static_cast<size_t>(i)].first * E, E,
                        expertIn.data() + i * E);
        grow(gate, n * 2 * F);
        grow(up, n * F);
        if (m.gateUp) {
            matmul(pool, m.gateUp.expert(ex), expertIn.data(), n, gate.data()); // [n][2F]: gate then up
            for (int64_t i = 0; i < n; ++i)
                kernels().geluMul(gate.data() + i * 2 * F, gate.data() + i * 2 * F + F, up.data() + i * F, F);
        } else {
            matmul(pool, m.gate.expert(ex), expertIn.data(), n, gate.data());
            matmul(pool, m.up.expert(ex), expertIn.data(), n, up.data());
            kernels().geluMul(gate.data(), up.data(), up.data(), n * F);
        }
        grow(expertOut, n * E);
        matmul(pool, m.down.expert(ex), up.data(), n, expertOut.data());
        const float expertScale = m.downScale[static_cast<size_t>(ex)];
        for (int64_t i = 0; i < n; ++i) {
            const auto [t, w] = routed[static_cast<size_t>(i)];
            kernels().axpyF32(w * expertScale, expertOut.data() + i * E, moeAcc.data() + t * E, E);
        }
    }
    // h2 = h1 + norm(dense + norm(experts, post_ffw_norm_2), post_ffw_norm).
    std::vector<float> sum(static_cast<size_t>(E));
    for (int64_t t = 0; t < tokens; ++t) {
        float* acc = moeAcc.data() + t * E;
        rmsNorm(acc, m.postNorm2.data(), acc, E, hp.rmsEps);
        for (int64_t i = 0; i < E; ++i)
            sum[static_cast<size_t>(i)] = dense[static_cast<size_t>(t * E + i)] + acc[i];
        rmsNorm(sum.data(), layer.postFfwNorm.data(), sum.data(), E, hp.rmsEps);
        for (int64_t i = 0; i < E; ++i) x[static_cast<size_t>(t * E + i)] += sum[static_cast<size_t>(i)];
    }
}

// Decode: every chosen expert reads the same input, so their gate/up products are one parallel
// region and their down products another (instead of two or three regions per expert). The same
// products and the same order of accumulation into moeAcc as the loop over experts in moeBlock.
void CpuSession::Impl::expertsForOneToken(const model::MoePlan& m,
                                          const std::vector<std::vector<std::pair<int64_t, float>>>& byExpert,
                                          const float* input) {
    const int64_t E = plan.hp.nEmbd;
    const int64_t F = m.width;
    std::vector<std::pair<int64_t, float>> chosen; // (expert, weight), in expert order
    for (int64_t ex = 0; ex < m.nExpert; ++ex)
        if (!byExpert[static_cast<size_t>(ex)].empty())
            chosen.emplace_back(ex, byExpert[static_cast<size_t>(ex)].front().second);
    const auto n = static_cast<int64_t>(chosen.size());
    grow(gate, n * 2 * F);
    grow(up, n * F);
    grow(expertOut, n * E);
    std::vector<model::Weight> weights;
    std::vector<MatmulJob> jobs;
    weights.reserve(static_cast<size_t>(2 * n));
    for (int64_t i = 0; i < n; ++i) {
        const int64_t ex = chosen[static_cast<size_t>(i)].first;
        if (m.gateUp) {
            weights.push_back(m.gateUp.expert(ex)); // [2F]: gate then up
        } else {
            weights.push_back(m.gate.expert(ex));
            weights.push_back(m.up.expert(ex));
        }
    }
    for (int64_t i = 0; i < n; ++i) {
        float* g = gate.data() + i * 2 * F;
        if (m.gateUp) {
            jobs.push_back({&weights[static_cast<size_t>(i)], input, g});
        } else {
            jobs.push_back({&weights[static_cast<size_t>(2 * i)], input, g});
            jobs.push_back({&weights[static_cast<size_t>(2 * i + 1)], input, g + F});
        }
    }
    matmuls(pool, jobs, 1);
    for (int64_t i = 0; i < n; ++i)
        kernels().geluMul(gate.data() + i * 2 * F, gate.data() + i * 2 * F + F, up.data() + i * F, F);
    std::vector<model::Weight> downs;
    downs.reserve(static_cast<size_t>(n));
    jobs.clear();
    for (int64_t i = 0; i < n; ++i) {
        downs.push_back(m.down.expert(chosen[static_cast<size_t>(i)].first));
        jobs.push_back({&downs.back(), up.data() + i * F, expertOut.data() + i * E});
    }
    matmuls(pool, jobs, 1);
    for (int64_t i = 0; i < n; ++i) {
        const auto [ex, w] = chosen[static_cast<size_t>(i)];
        kernels().axpyF32(w * m.downScale[static_cast<size_t>(ex)], expertOut.data() + i * E, moeAcc.data(),
                          E);
    }
}

// h3 = h2 + norm(proj(gelu(inp_gate h2) * P[l]), post_norm).
void CpuSession::Impl::perLayerInputBlock(const LayerPlan& layer, int64_t tokens) {
    const auto& hp = plan.hp;
    const auto& ple = *layer.perLayerInput;
    const int64_t E = hp.nEmbd;
    const int64_t D = hp.perLayerInputDim;
    const int64_t L = hp.nLayer;
    matmul(pool, ple.inputGate, x.data(), tokens, gate.data());
    for (int64_t t = 0; t < tokens; ++t)
        kernels().geluMul(gate.data() + t * D, perLayerInputs.data() + (t * L + layer.index) * D,
                          gate.data() + t * D, D);
    matmul(pool, ple.projection, gate.data(), tokens, proj.data());
    for (int64_t t = 0; t < tokens; ++t) {
        float* p = proj.data() + t * E;
        rmsNorm(p, ple.postNorm.data(), p, E, hp.rmsEps);
        for (int64_t i = 0; i < E; ++i) x[static_cast<size_t>(t * E + i)] += p[i];
    }
}

void CpuSession::Impl::commit(int64_t tokens, int64_t p0) {
    for (size_t c = 0; c < caches.size(); ++c) {
        auto& cache = caches[c];
        for (int64_t t = std::max<int64_t>(0, tokens - cache.slots); t < tokens; ++t) {
            const int64_t at = ((p0 + t) % cache.slots) * cache.width;
            const float* k = batchK[c].data() + t * cache.width;
            const float* v = batchV[c].data() + t * cache.width;
            if (cache.type == KvType::F32) {
                std::copy_n(k, cache.width, cache.k32.get() + at);
                std::copy_n(v, cache.width, cache.v32.get() + at);
            } else {
                kernels().toF16(k, cache.k16.get() + at, cache.width);
                kernels().toF16(v, cache.v16.get() + at, cache.width);
            }
        }
    }
}

void CpuSession::Impl::forward(std::span<const int32_t> ids, int64_t p0, std::span<const SoftTokens> soft,
                               int64_t softOffset, LogitsFor logits, std::vector<float>& logitsOut,
                               const std::atomic<bool>* cancel) {
    const auto& hp = plan.hp;
    const int64_t E = hp.nEmbd;
    const auto tokens = static_cast<int64_t>(ids.size());
    int64_t widestQ = 0, widestFfn = 2 * int64_t(hp.expertFfnWidth);
    for (const auto& l : plan.layers) {
        widestQ = std::max<int64_t>(widestQ, int64_t(l.attention.nHead) * l.attention.headDim);
        widestFfn = std::max<int64_t>(widestFfn, l.ffn.width);
    }
    widestFfn = std::max<int64_t>(widestFfn, hp.perLayerInputDim);
    grow(x, tokens * E);
    grow(normed, tokens * E);
    grow(proj, tokens * E);
    grow(dense, tokens * E);
    grow(q, tokens * widestQ);
    grow(attn, tokens * widestQ);
    grow(gate, tokens * widestFfn);
    grow(up, tokens * widestFfn);
    grow(routerLogits, tokens * std::max(1, hp.nExpert));

    std::vector<char> isSoft;
    embed(ids, soft, softOffset, isSoft);
    slidingReach.resize(static_cast<size_t>(tokens));
    for (int64_t t = 0; t < tokens; ++t) slidingReach[static_cast<size_t>(t)] = p0 + t;
    for (const auto& s : soft)
        if (s.bidirectional)
            for (int64_t i = std::max<int64_t>(0, s.first - softOffset);
                 i < std::min(tokens, s.first + s.count - softOffset); ++i)
                slidingReach[static_cast<size_t>(i)] = p0 + s.first + s.count - softOffset - 1;
    if (hp.hasPerLayerInputs()) perLayerInputsFor(ids, isSoft);
    // One table per kind of layer, shared by all layers of that kind (same rotation parameters):
    // built once per pass, not once per layer (35 times per decoded token on E2B).
    for (const bool sliding : {true, false}) {
        const auto layer = std::find_if(plan.layers.rbegin(), plan.layers.rend(),
                                        [&](const LayerPlan& l) { return l.attention.sliding == sliding; });
        if (layer != plan.layers.rend())
            buildRope(sliding ? ropeSliding : ropeFull, layer->attention, plan.ropeFreqFactors, p0, tokens);
    }

    for (const auto& layer : plan.layers) {
        checkCancel(cancel);
        attentionBlock(layer, tokens, p0);
        if (layer.moe) {
            moeBlock(layer, tokens);
        } else {
            denseFfn(layer, tokens, proj.data());
            for (int64_t t = 0; t < tokens; ++t) {
                float* p = proj.data() + t * E;
                rmsNorm(p, layer.postFfwNorm.data(), p, E, hp.rmsEps);
                for (int64_t i = 0; i < E; ++i) x[static_cast<size_t>(t * E + i)] += p[i];
            }
        }
        if (layer.perLayerInput) perLayerInputBlock(layer, tokens);
        for (int64_t i = 0; i < tokens * E; ++i) x[static_cast<size_t>(i)] *= layer.outputScale;
    }
    checkCancel(cancel);

    if (logits != LogitsFor::None) {
        const int64_t first = logits == LogitsFor::All ? 0 : tokens - 1;
        const int64_t rows = tokens - first;
        for (int64_t t = first; t < tokens; ++t)
            rmsNorm(x.data() + t * E, plan.outputNorm.data(), normed.data() + (t - first) * E, E, hp.rmsEps);
        const int64_t V = hp.nVocab;
        logitsOut.resize(static_cast<size_t>(rows * V));
        matmul(pool, plan.tokenEmbedding, normed.data(), rows, logitsOut.data());
        if (hp.finalLogitSoftcap > 0)
            pool.parallelFor(
                rows * V,
                [&](int64_t b, int64_t e) {
                    kernels().softcap(logitsOut.data() + b, e - b, hp.finalLogitSoftcap);
                },
                16384);
    }
    checkCancel(cancel);
    commit(tokens, p0);
}

} // namespace ocelle::cpu
