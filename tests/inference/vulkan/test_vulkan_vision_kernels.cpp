// The vision encoder's kernels (2-D RoPE, pooling, encoder attention, GELU-quick GLU) against
// double-precision CPU references on random inputs (a fresh seed each run, printed; OCELLE_TEST_SEED repeats
// one). Validation errors must stay zero.
//
// Tolerances (fp32 against double):
//   encoderAttention: |err| <= 1e-4 * sum_j p_j |v_j| + 1e-6 (as the decoder attention)
//   rope2d: |err| <= (4e-7 * pos + 2e-6) * (|x0| + |x1|) (as rope: one ulp of the fp32 angle)
//   pool2d: |err| <= 1e-6 * sum |terms| (+ the standardize step's |bias * scale| ulp)
//   GELU-quick GLU: |err| <= 1e-6 * (|x| + |y| + |x y|) + 1e-7
// (clamp and add, which the vision encoder also uses, are in test_vulkan_encoder_kernels.)
#include "vulkan_test_support.h"

#include <QtTest>

using namespace ocelle::vulkan;
using namespace ocelle::vulkan::testing;

class TestVulkanVisionKernels : public QObject {
    Q_OBJECT

    std::unique_ptr<Device> device_;
    std::unique_ptr<Pipelines> pipelines_;
    std::unique_ptr<Kernels> kernels_;
    uint32_t seed_ = 0;
    std::mt19937 rng_;

    template <typename F> void run(F&& f) {
        Recorder rec(*pipelines_);
        rec.begin();
        f(rec);
        rec.submitAndWait();
    }

private slots:
    void initTestCase() {
        std::string why;
        device_ = openTestDevice(why);
        if (!device_) QSKIP(("Vulkan vision kernels not tested: " + why).c_str());
        seed_ = testSeed();
        rng_.seed(seed_);
        qInfo("device: %s (%s); seed %u", device_->info().name.c_str(), deviceTypeName(device_->info().type),
              seed_);
        pipelines_ = std::make_unique<Pipelines>(*device_);
        kernels_ = std::make_unique<Kernels>(*pipelines_);
    }

    void cleanupTestCase() {
        if (!device_) return;
        QCOMPARE(device_->validationErrors(), uint64_t(0));
    }

    void encoderAttention_data() {
        QTest::addColumn<int>("headDim");
        QTest::addColumn<int>("heads");
        QTest::addColumn<int>("tokens");
        QTest::addColumn<double>("scale");
        QTest::addColumn<int>("stride"); // extra floats per token row (0: packed)
        QTest::newRow("one token") << 64 << 2 << 1 << 1.0 << 0;
        QTest::newRow("E2B heads (64), 37 tokens") << 64 << 3 << 37 << 1.0 << 0;
        QTest::newRow("26B heads (72), 203 tokens, scale") << 72 << 2 << 203 << 0.125 << 0;
        QTest::newRow("tiny fixture heads (16), 300 tokens, strided") << 16 << 2 << 300 << 1.0 << 5;
    }

    void encoderAttention() {
        QFETCH(int, headDim);
        QFETCH(int, heads);
        QFETCH(int, tokens);
        QFETCH(double, scale);
        QFETCH(int, stride);
        const int D = headDim, row = heads * D, rowStride = row + stride;
        const float spread = 2.0f / std::sqrt(float(D)); // scores of order 1..10
        const auto q = randomFloats(size_t(tokens) * rowStride, rng_, -1.0f, 1.0f);
        const auto k = randomFloats(size_t(tokens) * rowStride, rng_, -spread * 3, spread * 3);
        const auto v = randomFloats(size_t(tokens) * rowStride, rng_, -2.0f, 2.0f);
        std::vector<double> want(size_t(tokens) * rowStride, 0.0), tol(want.size(), 0.0);
        for (int t = 0; t < tokens; ++t)
            for (int h = 0; h < heads; ++h) {
                std::vector<double> s(static_cast<size_t>(tokens));
                for (int j = 0; j < tokens; ++j) {
                    double dot = 0;
                    for (int d = 0; d < D; ++d)
                        dot += double(q[size_t(t) * rowStride + h * D + d]) *
                               k[size_t(j) * rowStride + h * D + d];
                    s[size_t(j)] = dot * scale;
                }
                const double m = *std::max_element(s.begin(), s.end());
                double sum = 0;
                for (double& x : s) sum += (x = std::exp(x - m));
                for (int d = 0; d < D; ++d) {
                    double o = 0, a = 0;
                    for (int j = 0; j < tokens; ++j) {
                        const double value = v[size_t(j) * rowStride + h * D + d];
                        o += s[size_t(j)] / sum * value;
                        a += s[size_t(j)] / sum * std::abs(value);
                    }
                    want[size_t(t) * rowStride + h * D + d] = o;
                    tol[size_t(t) * rowStride + h * D + d] = a;
                }
            }
        auto bq = uploadVector(*device_, q), bk = uploadVector(*device_, k), bv = uploadVector(*device_, v);
        std::vector<float> untouched(want.size(), 7.0f);
        auto out = uploadVector(*device_, untouched);
        EncoderAttentionArgs a;
        a.q = at(*bq);
        a.k = at(*bk);
        a.v = at(*bv);
        a.out = at(*out);
        a.headDim = uint32_t(D);
        a.heads = uint32_t(heads);
        a.tokens = uint32_t(tokens);
        a.scale = float(scale);
        a.qStride = a.kStride = a.vStride = a.outStride = uint32_t(rowStride);
        run([&](Recorder& rec) { kernels_->encoderAttention(rec, a); });
        auto got = readVector(*device_, *out, want.size());
        // The gaps between rows are not written.
        for (int t = 0; t < tokens; ++t)
            for (int i = row; i < rowStride; ++i) {
                QCOMPARE(got[size_t(t) * rowStride + i], 7.0f);
                want[size_t(t) * rowStride + i] = 7.0;
            }
        const long bad = firstMismatch(got, want, tol, 1e-4, 1e-6);
        QVERIFY2(bad < 0, mismatchText(bad, got, want, seed_).c_str());
    }

    void rope2d_data() {
        QTest::addColumn<int>("headDim");
        QTest::addColumn<int>("heads");
        QTest::addColumn<int>("gridX");
        QTest::addColumn<int>("gridY");
        QTest::newRow("E2B heads, 99 x 99 grid (budget 1120)") << 64 << 2 << 99 << 99;
        QTest::newRow("26B heads (72), 39 x 30") << 72 << 3 << 39 << 30;
        QTest::newRow("tiny heads (16), 18 x 57") << 16 << 2 << 18 << 57;
    }

    void rope2d() {
        QFETCH(int, headDim);
        QFETCH(int, heads);
        QFETCH(int, gridX);
        QFETCH(int, gridY);
        const int tokens = gridX * gridY, half = headDim / 2, quarter = headDim / 4;
        const auto x = randomFloats(size_t(tokens) * heads * headDim, rng_, -3.0f, 3.0f);
        std::vector<double> want(x.size()), tol(x.size());
        for (int t = 0; t < tokens; ++t)
            for (int h = 0; h < heads; ++h)
                for (int axis = 0; axis < 2; ++axis) {
                    const int pos = axis == 0 ? t % gridX : t / gridX;
                    const size_t b = (size_t(t) * heads + h) * headDim + size_t(axis) * half;
                    for (int i = 0; i < quarter; ++i) {
                        const double angle = pos * std::pow(100.0, -2.0 * i / half);
                        const double x0 = x[b + i], x1 = x[b + i + quarter];
                        want[b + i] = x0 * std::cos(angle) - x1 * std::sin(angle);
                        want[b + i + quarter] = x0 * std::sin(angle) + x1 * std::cos(angle);
                        tol[b + i] = tol[b + i + quarter] =
                            (4e-7 * pos + 2e-6) * (std::abs(x0) + std::abs(x1));
                    }
                }
        auto bx = uploadVector(*device_, x);
        run([&](Recorder& rec) {
            kernels_->rope2d(rec, at(*bx), uint32_t(headDim), uint32_t(heads), uint32_t(tokens),
                             uint32_t(gridX), 100.0f);
        });
        const auto got = readVector(*device_, *bx, x.size());
        const long bad = firstMismatch(got, want, tol, 1.0, 1e-7);
        QVERIFY2(bad < 0, mismatchText(bad, got, want, seed_).c_str());
    }

    void pool2d_data() {
        QTest::addColumn<int>("n");
        QTest::addColumn<int>("gridX");
        QTest::addColumn<int>("gridY");
        QTest::addColumn<bool>("standardize");
        QTest::newRow("768 wide, 6 x 9") << 768 << 6 << 9 << false;
        QTest::newRow("odd width 37, 39 x 30, standardize") << 37 << 39 << 30 << true;
    }

    void pool2d() {
        QFETCH(int, n);
        QFETCH(int, gridX);
        QFETCH(int, gridY);
        QFETCH(bool, standardize);
        const int k = 3, px = gridX / k, pooled = px * (gridY / k);
        const auto x = randomFloats(size_t(gridX) * gridY * n, rng_, -20.0f, 20.0f);
        const auto bias = randomFloats(size_t(n), rng_, -3.0f, 3.0f);
        const auto stdScale = randomFloats(size_t(n), rng_, 0.1f, 4.0f);
        const float scale = std::sqrt(float(n)) / 9.0f;
        std::vector<double> want(size_t(pooled) * n), tol(want.size());
        for (int t = 0; t < pooled; ++t)
            for (int i = 0; i < n; ++i) {
                double sum = 0, a = 0;
                for (int dy = 0; dy < k; ++dy)
                    for (int dx = 0; dx < k; ++dx) {
                        const double v = x[(size_t((t / px) * k + dy) * gridX + (t % px) * k + dx) * n + i];
                        sum += v;
                        a += std::abs(v);
                    }
                double value = sum * scale;
                a *= scale;
                if (standardize) {
                    value = (value - bias[size_t(i)]) * stdScale[size_t(i)];
                    a = (a + std::abs(bias[size_t(i)])) * stdScale[size_t(i)];
                }
                want[size_t(t) * n + i] = value;
                tol[size_t(t) * n + i] = a;
            }
        auto bx = uploadVector(*device_, x), bb = uploadVector(*device_, bias),
             bs = uploadVector(*device_, stdScale);
        Buffer out(*device_, want.size() * 4);
        run([&](Recorder& rec) {
            kernels_->pool2d(rec, at(*bx), at(out), uint32_t(n), uint32_t(gridX), uint32_t(gridY), k, scale,
                             standardize ? std::optional<View>(at(*bb)) : std::nullopt,
                             standardize ? std::optional<View>(at(*bs)) : std::nullopt);
        });
        const auto got = readVector(*device_, out, want.size());
        const long bad = firstMismatch(got, want, tol, 1e-6, 1e-7);
        QVERIFY2(bad < 0, mismatchText(bad, got, want, seed_).c_str());
    }

    void geluQuickGlu() {
        const int n = 1003, rows = 3;
        const auto x = randomFloats(size_t(n) * rows, rng_, -8.0f, 8.0f);
        const auto y = randomFloats(size_t(n) * rows, rng_, -3.0f, 3.0f);
        auto bx = uploadVector(*device_, x), by = uploadVector(*device_, y);
        Buffer glu(*device_, x.size() * 4);
        run([&](Recorder& rec) {
            kernels_->geluQuickGlu(rec, at(*bx), at(*by), at(glu), uint32_t(n), uint32_t(rows));
        });
        std::vector<double> want(x.size()), tol(x.size());
        for (size_t i = 0; i < x.size(); ++i) {
            want[i] = double(x[i]) / (1.0 + std::exp(-1.702 * x[i])) * y[i];
            tol[i] = std::abs(x[i]) + std::abs(y[i]) + std::abs(double(x[i]) * y[i]);
        }
        const auto got = readVector(*device_, glu, x.size());
        const long bad = firstMismatch(got, want, tol, 1e-6, 1e-7);
        QVERIFY2(bad < 0, mismatchText(bad, got, want, seed_).c_str());
    }

    void refusesBadShapes() {
        Buffer b(*device_, 4096);
        Recorder rec(*pipelines_);
        rec.begin();
        QVERIFY_THROWS_EXCEPTION(VulkanError, kernels_->rope2d(rec, at(b), 6, 1, 4, 2, 100.0f));
        QVERIFY_THROWS_EXCEPTION(VulkanError, kernels_->pool2d(rec, at(b), at(b), 4, 4, 3, 3, 1.0f));
        EncoderAttentionArgs a;
        a.q = a.k = a.v = a.out = at(b);
        a.headDim = 300;
        a.heads = 1;
        a.tokens = 1;
        QVERIFY_THROWS_EXCEPTION(VulkanError, kernels_->encoderAttention(rec, a));
        rec.submitAndWait();
    }
};

QTEST_APPLESS_MAIN(TestVulkanVisionKernels)
#include "test_vulkan_vision_kernels.moc"
