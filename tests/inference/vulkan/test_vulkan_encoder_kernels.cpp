// The encoder kernels (elementwise clamp/SiLU/add, sigmoid GLU, causal depthwise conv, the audio
// sub-sampling conv with channel LayerNorm, chunked local attention with relative positions)
// against double-precision CPU references on random inputs, a fresh seed each run (printed;
// OCELLE_TEST_SEED repeats one), odd sizes, both reduction variants where there is a reduction.
// Validation errors are counted and must stay zero.
//
// Tolerances (fp32 against double):
//   clamp: exact; silu, add, sigmoid GLU: |err| <= 1e-5 * |value| + 1e-6
//   depthwise conv: |err| <= 1e-5 * sum_j |w_j x_j| + 1e-6
//   conv sub-sampling: |err| <= 1e-4 * |value| + 1e-4 (LayerNorm output is O(1); fp32 statistics)
//   local attention: |err| <= 1e-4 * max |v| + 1e-6 (softmax of softcapped fp32 scores)
#include "vulkan_test_support.h"

#include <QtTest>

#include <algorithm>
#include <limits>

using namespace ocelle::vulkan;
using namespace ocelle::vulkan::testing;

class TestVulkanEncoderKernels : public QObject {
    Q_OBJECT

    std::unique_ptr<Device> device_;
    std::unique_ptr<Pipelines> pipelines_;
    std::unique_ptr<Kernels> subgroup_;
    std::unique_ptr<Kernels> shared_;
    uint32_t seed_ = 0;
    std::mt19937 rng_;

    template <typename F> void run(F&& f) {
        Recorder rec(*pipelines_);
        rec.begin();
        f(rec);
        rec.submitAndWait();
    }

    void expectClose(const std::vector<float>& got, const std::vector<double>& want,
                     const std::vector<double>& scale, double tol, double absTol) {
        const long bad = firstMismatch(got, want, scale, tol, absTol);
        QVERIFY2(bad < 0, mismatchText(bad, got, want, seed_).c_str());
    }

private slots:
    void initTestCase() {
        std::string why;
        device_ = openTestDevice(why);
        if (!device_) QSKIP(("Vulkan encoder kernels not tested: " + why).c_str());
        seed_ = testSeed();
        rng_.seed(seed_);
        qInfo("device: %s; seed %u", device_->info().name.c_str(), seed_);
        pipelines_ = std::make_unique<Pipelines>(*device_);
        subgroup_ = std::make_unique<Kernels>(*pipelines_);
        KernelTuning fallback;
        fallback.useSubgroups = false;
        shared_ = std::make_unique<Kernels>(*pipelines_, fallback);
    }

    void cleanupTestCase() {
        if (!device_) return;
        QCOMPARE(device_->validationErrors(), uint64_t(0));
    }

    void clampSiluAdd() {
        const size_t n = 70001; // beyond one workgroup row, odd
        auto x = randomFloats(n, rng_, -20.0f, 20.0f);
        x[0] = 1e4f; // sigmoid saturates: no NaN
        x[1] = -1e4f;
        const auto y = randomFloats(n, rng_, -3.0f, 3.0f);
        const size_t row = 37;
        auto bx = uploadVector(*device_, x);
        auto by = uploadVector(*device_, y);
        Buffer clamped(*device_, n * 4), silu(*device_, n * 4), sum(*device_, n * 4), bias(*device_, n * 4);
        auto inPlace = uploadVector(*device_, x);
        run([&](Recorder& rec) {
            subgroup_->clamp(rec, at(*bx), at(clamped), n, -2.5f, 7.0f);
            subgroup_->silu(rec, at(*bx), at(silu), n);
            subgroup_->add(rec, at(*bx), at(*by), at(sum), n, 0.5f);
            subgroup_->add(rec, at(*bx), at(*by, 3), at(bias), n - n % row, 1.0f, true, uint32_t(row));
            subgroup_->clamp(rec, at(*inPlace, 1), at(*inPlace, 1), n - 1, -1.0f, 1.0f);
        });
        const auto gotClamp = readVector(*device_, clamped, n);
        const auto gotSilu = readVector(*device_, silu, n);
        const auto gotSum = readVector(*device_, sum, n);
        const auto gotBias = readVector(*device_, bias, n - n % row);
        const auto gotInPlace = readVector(*device_, *inPlace, n);
        std::vector<double> wantSilu(n), wantSum(n), wantBias(n - n % row), scale(n, 1.0);
        for (size_t i = 0; i < n; ++i) {
            QCOMPARE(gotClamp[i], std::clamp(x[i], -2.5f, 7.0f));
            QCOMPARE(gotInPlace[i], i == 0 ? x[0] : std::clamp(x[i], -1.0f, 1.0f));
            wantSilu[i] = double(x[i]) / (1.0 + std::exp(-double(x[i])));
            wantSum[i] = double(x[i]) + 0.5 * y[i];
            if (i < wantBias.size()) wantBias[i] = double(x[i]) + y[3 + i % row];
        }
        std::vector<double> magSilu(n), magSum(n), magBias(wantBias.size());
        for (size_t i = 0; i < n; ++i) magSilu[i] = std::abs(wantSilu[i]);
        for (size_t i = 0; i < n; ++i) magSum[i] = std::abs(x[i]) + std::abs(0.5 * y[i]);
        for (size_t i = 0; i < wantBias.size(); ++i) magBias[i] = std::abs(x[i]) + std::abs(y[3 + i % row]);
        expectClose(gotSilu, wantSilu, magSilu, 1e-5, 1e-6);
        expectClose(gotSum, wantSum, magSum, 1e-5, 1e-6);
        expectClose(gotBias, wantBias, magBias, 1e-5, 1e-6);
    }

    void sigmoidGlu() {
        // Value and gate as two halves of one row, as the conformer's pw1 output.
        const uint32_t n = 301, rows = 5;
        auto h = randomFloats(size_t(2) * n * rows, rng_, -10.0f, 10.0f);
        h[n] = 1e4f;
        h[n + 1] = -1e4f;
        auto bh = uploadVector(*device_, h);
        Buffer out(*device_, size_t(n) * rows * 4);
        run([&](Recorder& rec) {
            subgroup_->sigmoidGlu(rec, at(*bh, n), at(*bh), at(out), n, rows, 2 * n, 2 * n, n);
        });
        const auto got = readVector(*device_, out, size_t(n) * rows);
        std::vector<double> want(got.size()), mag(got.size());
        for (uint32_t r = 0; r < rows; ++r)
            for (uint32_t i = 0; i < n; ++i) {
                const double a = h[size_t(r) * 2 * n + i], g = h[size_t(r) * 2 * n + n + i];
                want[size_t(r) * n + i] = a / (1.0 + std::exp(-g));
                mag[size_t(r) * n + i] = std::abs(want[size_t(r) * n + i]);
            }
        expectClose(got, want, mag, 1e-5, 1e-6);
    }

    void depthwiseConv() {
        const uint32_t channels = 77, taps = 5, tokens = 23;
        const auto x = randomFloats(size_t(channels) * tokens, rng_);
        const auto w = randomFloats(size_t(channels) * taps, rng_);
        auto bx = uploadVector(*device_, x);
        auto bw = uploadVector(*device_, w);
        Buffer out(*device_, x.size() * 4);
        run([&](Recorder& rec) {
            subgroup_->depthwiseConvCausal(rec, at(*bx), at(*bw), at(out), channels, taps, tokens);
        });
        const auto got = readVector(*device_, out, x.size());
        std::vector<double> want(x.size()), mag(x.size());
        for (uint32_t t = 0; t < tokens; ++t)
            for (uint32_t c = 0; c < channels; ++c) {
                double acc = 0, m = 0;
                for (uint32_t j = 0; j < taps; ++j) {
                    const int src = int(t) - int(taps - 1) + int(j);
                    if (src < 0) continue;
                    const double term = double(w[size_t(c) * taps + j]) * x[size_t(src) * channels + c];
                    acc += term;
                    m += std::abs(term);
                }
                want[size_t(t) * channels + c] = acc;
                mag[size_t(t) * channels + c] = m;
            }
        expectClose(got, want, mag, 1e-5, 1e-6);
    }

    void convSubsample_data() {
        QTest::addColumn<int>("times");
        QTest::addColumn<int>("bins");
        QTest::addColumn<int>("in");
        QTest::addColumn<int>("out");
        QTest::newRow("first stage, odd sizes") << 17 << 31 << 1 << 8;
        QTest::newRow("second stage") << 9 << 16 << 8 << 4;
        QTest::newRow("wide (more channels than lanes)") << 6 << 8 << 5 << 130;
    }

    void convSubsample() {
        QFETCH(int, times);
        QFETCH(int, bins);
        QFETCH(int, in);
        QFETCH(int, out);
        const int outTimes = (times - 1) / 2 + 1, outBins = (bins - 1) / 2 + 1;
        const auto x = randomFloats(size_t(times) * bins * in, rng_, -2.0f, 2.0f);
        const auto kernel = randomFloats(size_t(9) * out * in, rng_); // [kh][kw][out][in]
        const auto norm = randomFloats(size_t(out), rng_, 0.5f, 1.5f);
        std::vector<double> want(size_t(outTimes) * outBins * out), mag(want.size(), 1.0);
        for (int t = 0; t < outTimes; ++t)
            for (int f = 0; f < outBins; ++f) {
                std::vector<double> acc(size_t(out), 0.0);
                for (int kh = 0; kh < 3; ++kh)
                    for (int kw = 0; kw < 3; ++kw) {
                        const int ti = 2 * t - 1 + kh, fi = 2 * f - 1 + kw;
                        if (ti < 0 || ti >= times || fi < 0 || fi >= bins) continue;
                        for (int o = 0; o < out; ++o)
                            for (int i = 0; i < in; ++i)
                                acc[size_t(o)] += double(kernel[((size_t(kh) * 3 + kw) * out + o) * in + i]) *
                                                  x[(size_t(ti) * bins + fi) * in + i];
                    }
                double mean = 0, var = 0;
                for (double a : acc) mean += a;
                mean /= out;
                for (double a : acc) var += (a - mean) * (a - mean);
                var /= out;
                for (int o = 0; o < out; ++o)
                    want[(size_t(t) * outBins + f) * out + o] =
                        std::max(0.0, (acc[size_t(o)] - mean) / std::sqrt(var + 1e-6) * norm[size_t(o)]);
            }
        auto bx = uploadVector(*device_, x);
        auto bk = uploadVector(*device_, kernel);
        auto bn = uploadVector(*device_, norm);
        for (Kernels* k : {subgroup_.get(), shared_.get()}) {
            Buffer result(*device_, want.size() * 4);
            run([&](Recorder& rec) {
                k->convSubsample(rec, at(*bx), at(*bk), at(*bn), at(result), uint32_t(times), uint32_t(bins),
                                 uint32_t(in), uint32_t(out), 1e-6f);
            });
            expectClose(readVector(*device_, result, want.size()), want, mag, 1e-4, 1e-4);
        }
    }

    void localAttention_data() {
        QTest::addColumn<int>("tokens");
        QTest::addColumn<int>("heads");
        QTest::addColumn<int>("headDim");
        QTest::newRow("shorter than the window") << 7 << 2 << 16;
        QTest::newRow("several windows") << 41 << 3 << 24;
        QTest::newRow("many tokens x heads") << 100 << 8 << 8;
    }

    void localAttention() {
        QFETCH(int, tokens);
        QFETCH(int, heads);
        QFETCH(int, headDim);
        const int keys = 12, E = heads * headDim;
        // Large q/k so the softcap (here 5) matters.
        const auto q = randomFloats(size_t(tokens) * E, rng_, -3.0f, 3.0f);
        const auto k = randomFloats(size_t(tokens) * E, rng_, -3.0f, 3.0f);
        const auto v = randomFloats(size_t(tokens) * E, rng_);
        const auto rel = randomFloats(size_t(keys + 1) * E, rng_);
        const auto dimScale = randomFloats(size_t(headDim), rng_, 0.5f, 1.5f);
        const float queryScale = 0.7f, keyScale = 1.3f, softcap = 5.0f;
        std::vector<double> want(q.size()), mag(q.size(), 1.0);
        for (int t = 0; t < tokens; ++t)
            for (int h = 0; h < heads; ++h) {
                const int first = std::max(0, t - keys + 1);
                std::vector<double> s;
                for (int key = first; key <= t; ++key) {
                    double score = 0;
                    for (int d = 0; d < headDim; ++d) {
                        const double qs =
                            double(q[size_t(t) * E + h * headDim + d]) * queryScale * dimScale[size_t(d)];
                        score += qs * (double(k[size_t(key) * E + h * headDim + d]) * keyScale +
                                       rel[size_t(keys - (t - key)) * E + h * headDim + d]);
                    }
                    s.push_back(softcap * std::tanh(score / softcap));
                }
                const double m = *std::max_element(s.begin(), s.end());
                double total = 0;
                for (double& e : s) total += e = std::exp(e - m);
                for (int d = 0; d < headDim; ++d) {
                    double o = 0;
                    for (int key = first; key <= t; ++key)
                        o += s[size_t(key - first)] / total * v[size_t(key) * E + h * headDim + d];
                    want[size_t(t) * E + h * headDim + d] = o;
                }
            }
        auto bq = uploadVector(*device_, q);
        auto bk = uploadVector(*device_, k);
        auto bv = uploadVector(*device_, v);
        auto br = uploadVector(*device_, rel);
        auto bd = uploadVector(*device_, dimScale);
        Buffer out(*device_, q.size() * 4);
        Kernels::LocalAttentionArgs a;
        a.q = at(*bq);
        a.k = at(*bk);
        a.v = at(*bv);
        a.rel = at(*br);
        a.perDimScale = at(*bd);
        a.out = at(out);
        a.tokens = uint32_t(tokens);
        a.heads = uint32_t(heads);
        a.headDim = uint32_t(headDim);
        a.keys = uint32_t(keys);
        a.queryScale = queryScale;
        a.keyScale = keyScale;
        a.softcap = softcap;
        run([&](Recorder& rec) { subgroup_->localAttention(rec, a); });
        expectClose(readVector(*device_, out, q.size()), want, mag, 1e-4, 1e-6);
    }
};

QTEST_APPLESS_MAIN(TestVulkanEncoderKernels)
#include "test_vulkan_encoder_kernels.moc"
