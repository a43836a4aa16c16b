// One Gemma-4-shaped decoder layer per token, recorded as a single command buffer the way a
// forward pass will use the kernels (embedding gather, norms, Q/K/V matvecs recorded back to back,
// per-head norms, RoPE, KV store into a ring, attention, post-norm + residual, GELU-gated FFN,
// post-norm + residual + layer scalar, softcapped logits), for several consecutive tokens, against
// a double-precision reference of the same computation. Tolerance: 1e-4 relative to the largest
// logit magnitude (fp32 accumulation through ~10 dependent kernels).
#include "vulkan_test_support.h"

#include <QtTest>

#include <algorithm>

using namespace ocelle::vulkan;
using namespace ocelle::vulkan::testing;

namespace {

struct Dims {
    uint32_t vocab = 40, hidden = 64, heads = 4, kvHeads = 2, headDim = 32, ffn = 96, window = 3,
             capacity = 4;
};

using Vec = std::vector<double>;

Vec matvecRef(const std::vector<float>& w, const Vec& x, uint32_t rows) {
    const size_t k = x.size();
    Vec y(rows, 0.0);
    for (uint32_t r = 0; r < rows; ++r)
        for (size_t i = 0; i < k; ++i) y[r] += double(w[r * k + i]) * x[i];
    return y;
}

Vec rmsRef(const Vec& x, const std::vector<float>* w) {
    double ss = 0;
    for (double v : x) ss += v * v;
    const double inv = 1.0 / std::sqrt(ss / double(x.size()) + 1e-6);
    Vec y(x.size());
    for (size_t i = 0; i < x.size(); ++i) y[i] = x[i] * inv * (w ? double((*w)[i]) : 1.0);
    return y;
}

void ropeRef(Vec& x, uint32_t heads, uint32_t d, uint32_t pos) {
    for (uint32_t h = 0; h < heads; ++h)
        for (uint32_t i = 0; i < d / 2; ++i) {
            const double a = pos * std::pow(10000.0, -2.0 * i / d);
            const double x0 = x[h * d + i], x1 = x[h * d + i + d / 2];
            x[h * d + i] = x0 * std::cos(a) - x1 * std::sin(a);
            x[h * d + i + d / 2] = x0 * std::sin(a) + x1 * std::cos(a);
        }
}

} // namespace

class TestVulkanLayer : public QObject {
    Q_OBJECT

private slots:
    void decodeTokensMatchReference() {
        std::string why;
        auto device = openTestDevice(why);
        if (!device) QSKIP(("Vulkan not tested: " + why).c_str());
        const uint32_t seed = testSeed();
        std::mt19937 rng(seed);
        qInfo("seed %u", seed);
        const Dims d;
        const uint32_t qRows = d.heads * d.headDim, kvRows = d.kvHeads * d.headDim;
        const TensorType wt = TensorType::Q8_0;

        auto makeWeight = [&](uint32_t rows, uint32_t k, std::vector<float>& dense) {
            const auto bytes = randomWeights(wt, rows, k, rng);
            dense = dequantized(wt, bytes, rows, k);
            return WeightTensor::upload(*device, uint32_t(wt), rows, k, bytes.data());
        };
        std::vector<float> embD, wqD, wkD, wvD, woD, gateD, upD, downD;
        auto emb = makeWeight(d.vocab, d.hidden, embD);
        auto wq = makeWeight(qRows, d.hidden, wqD);
        auto wk = makeWeight(kvRows, d.hidden, wkD);
        auto wv = makeWeight(kvRows, d.hidden, wvD);
        auto wo = makeWeight(d.hidden, qRows, woD);
        auto gate = makeWeight(d.ffn, d.hidden, gateD);
        auto up = makeWeight(d.ffn, d.hidden, upD);
        auto down = makeWeight(d.hidden, d.ffn, downD);
        const auto attnNorm = randomFloats(d.hidden, rng, 0.5f, 1.5f);
        const auto qNorm = randomFloats(d.headDim, rng, 0.5f, 1.5f);
        const auto kNorm = randomFloats(d.headDim, rng, 0.5f, 1.5f);
        const auto postAttn = randomFloats(d.hidden, rng, 0.5f, 1.5f);
        const auto ffnNorm = randomFloats(d.hidden, rng, 0.5f, 1.5f);
        const auto postFfn = randomFloats(d.hidden, rng, 0.5f, 1.5f);
        const auto outNorm = randomFloats(d.hidden, rng, 0.5f, 1.5f);
        const float layerScale = 0.8f;

        auto bAttnNorm = uploadVector(*device, attnNorm), bQNorm = uploadVector(*device, qNorm),
             bKNorm = uploadVector(*device, kNorm), bPostAttn = uploadVector(*device, postAttn),
             bFfnNorm = uploadVector(*device, ffnNorm), bPostFfn = uploadVector(*device, postFfn),
             bOutNorm = uploadVector(*device, outNorm);
        // Activations: one scratch buffer with sub-ranges, as an engine would lay them out.
        const uint32_t H = d.hidden;
        enum : uint32_t {
            X = 0,
            A = 64,
            Q = 128,
            K = 256,
            V = 320,
            O = 384,
            H1 = 512,
            F = 576,
            G = 640,
            U = 736
        };
        const uint32_t FF = 832, LOGITS = 896, SCRATCH = 960;
        Buffer act(*device, (SCRATCH + Kernels::attentionScratchElements(d.heads, d.headDim, 2, 1)) * 4);
        Buffer kCache(*device, d.capacity * kvRows * 4), vCache(*device, d.capacity * kvRows * 4);
        Buffer ids(*device, 16);

        Pipelines pipelines(*device);
        Kernels k(pipelines);
        Recorder rec(pipelines);
        const std::vector<uint32_t> tokens{7, 0, 39, 12, 7};
        std::vector<Vec> refK, refV; // every position's K/V (the ring only keeps the window)
        for (uint32_t pos = 0; pos < tokens.size(); ++pos) {
            upload(*device, ids, 0, &tokens[pos], 4);
            rec.begin();
            k.gather(rec, *emb, at(ids), at(act, X), 1, std::sqrt(float(H)));
            k.rmsNorm(rec, {.x = at(act, X), .out = at(act, A), .n = H, .weight = at(*bAttnNorm)});
            k.matvec(rec, *wq, at(act, A), at(act, Q));
            k.matvec(rec, *wk, at(act, A), at(act, K));
            k.matvec(rec, *wv, at(act, A), at(act, V));
            k.rmsNorm(
                rec,
                {.x = at(act, Q), .out = at(act, Q), .n = d.headDim, .rows = d.heads, .weight = at(*bQNorm)});
            k.rmsNorm(rec, {.x = at(act, K),
                            .out = at(act, K),
                            .n = d.headDim,
                            .rows = d.kvHeads,
                            .weight = at(*bKNorm)});
            k.rmsNorm(rec, {.x = at(act, V), .out = at(act, V), .n = d.headDim, .rows = d.kvHeads});
            k.rope(rec, at(act, Q), d.headDim, d.heads, 1, pos, 10000.0f);
            k.rope(rec, at(act, K), d.headDim, d.kvHeads, 1, pos, 10000.0f);
            k.kvStore(rec, at(act, K), at(kCache), kvRows, 1, pos, d.capacity);
            k.kvStore(rec, at(act, V), at(vCache), kvRows, 1, pos, d.capacity);
            AttentionArgs a;
            a.q = at(act, Q);
            a.kCache = at(kCache);
            a.vCache = at(vCache);
            a.out = at(act, O);
            a.scratch = at(act, SCRATCH);
            a.headDim = d.headDim;
            a.heads = d.heads;
            a.kvHeads = d.kvHeads;
            a.capacity = d.capacity;
            a.pos0 = pos;
            a.window = d.window;
            a.splits = pos >= 2 ? 2 : 1;
            k.attention(rec, a);
            k.matvec(rec, *wo, at(act, O), at(act, H1));
            k.rmsNorm(rec, {.x = at(act, H1),
                            .out = at(act, H1),
                            .n = H,
                            .weight = at(*bPostAttn),
                            .residual = at(act, X)});
            k.rmsNorm(rec, {.x = at(act, H1), .out = at(act, F), .n = H, .weight = at(*bFfnNorm)});
            k.matvec(rec, *gate, at(act, F), at(act, G));
            k.matvec(rec, *up, at(act, F), at(act, U));
            k.geglu(rec, at(act, G), at(act, U), at(act, G), d.ffn);
            k.matvec(rec, *down, at(act, G), at(act, FF));
            k.rmsNorm(rec, {.x = at(act, FF),
                            .out = at(act, X),
                            .n = H,
                            .weight = at(*bPostFfn),
                            .residual = at(act, H1),
                            .scale = layerScale});
            k.rmsNorm(rec, {.x = at(act, X), .out = at(act, A), .n = H, .weight = at(*bOutNorm)});
            k.matvec(rec, *emb, at(act, A), at(act, LOGITS), 1, 0, 0, 30.0f); // tied output, softcap
            rec.submitAndWait();
            const uint32_t dispatches = rec.dispatchCount(), barriers = rec.barrierCount();
            QVERIFY(barriers < dispatches); // independent Q/K/V (and gate/up) share barriers
            const auto logits = readVector(*device, act, d.vocab, LOGITS);

            // Reference.
            Vec x(H);
            for (uint32_t i = 0; i < H; ++i) x[i] = double(embD[tokens[pos] * H + i]) * std::sqrt(double(H));
            const Vec an = rmsRef(x, &attnNorm);
            Vec q = matvecRef(wqD, an, qRows), kk = matvecRef(wkD, an, kvRows),
                vv = matvecRef(wvD, an, kvRows);
            auto perHead = [&](Vec& v, uint32_t n, const std::vector<float>* w) {
                for (uint32_t h = 0; h < n; ++h) {
                    Vec part(v.begin() + h * d.headDim, v.begin() + (h + 1) * d.headDim);
                    part = rmsRef(part, w);
                    std::copy(part.begin(), part.end(), v.begin() + h * d.headDim);
                }
            };
            perHead(q, d.heads, &qNorm);
            perHead(kk, d.kvHeads, &kNorm);
            perHead(vv, d.kvHeads, nullptr);
            ropeRef(q, d.heads, d.headDim, pos);
            ropeRef(kk, d.kvHeads, d.headDim, pos);
            refK.push_back(kk);
            refV.push_back(vv);
            Vec o(qRows, 0.0);
            const uint32_t lo = pos + 1 > d.window ? pos + 1 - d.window : 0;
            for (uint32_t h = 0; h < d.heads; ++h) {
                const uint32_t kvh = h / (d.heads / d.kvHeads);
                Vec s;
                for (uint32_t p = lo; p <= pos; ++p) {
                    double dot = 0;
                    for (uint32_t i = 0; i < d.headDim; ++i)
                        dot += q[h * d.headDim + i] * refK[p][kvh * d.headDim + i];
                    s.push_back(dot);
                }
                const double m = *std::max_element(s.begin(), s.end());
                double sum = 0;
                for (double& v : s) sum += (v = std::exp(v - m));
                for (uint32_t p = lo; p <= pos; ++p)
                    for (uint32_t i = 0; i < d.headDim; ++i)
                        o[h * d.headDim + i] += s[p - lo] / sum * refV[p][kvh * d.headDim + i];
            }
            Vec h1 = rmsRef(matvecRef(woD, o, H), &postAttn);
            for (uint32_t i = 0; i < H; ++i) h1[i] += x[i];
            const Vec f = rmsRef(h1, &ffnNorm);
            Vec g = matvecRef(gateD, f, d.ffn);
            const Vec u = matvecRef(upD, f, d.ffn);
            for (uint32_t i = 0; i < d.ffn; ++i)
                g[i] = 0.5 * g[i] *
                       (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (g[i] + 0.044715 * g[i] * g[i] * g[i]))) *
                       u[i];
            Vec h2 = rmsRef(matvecRef(downD, g, H), &postFfn);
            for (uint32_t i = 0; i < H; ++i) h2[i] = (h2[i] + h1[i]) * layerScale;
            Vec want = matvecRef(embD, rmsRef(h2, &outNorm), d.vocab);
            for (double& v : want) v = 30.0 * std::tanh(v / 30.0);
            double largest = 0;
            for (double v : want) largest = std::max(largest, std::abs(v));
            for (uint32_t i = 0; i < d.vocab; ++i)
                QVERIFY2(std::abs(logits[i] - want[i]) <= 1e-4 * largest,
                         ("token " + std::to_string(pos) + " logit " + std::to_string(i) + ": got " +
                          std::to_string(logits[i]) + ", want " + std::to_string(want[i]) + " (seed " +
                          std::to_string(seed) + ")")
                             .c_str());
            qInfo("token %u: %u dispatches, %u barriers, max |logit| %.3f", pos, dispatches, barriers,
                  largest);
        }
        QCOMPARE(device->validationErrors(), uint64_t(0));
    }
};

QTEST_APPLESS_MAIN(TestVulkanLayer)
#include "test_vulkan_layer.moc"
