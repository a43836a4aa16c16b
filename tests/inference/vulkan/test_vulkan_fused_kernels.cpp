// The fused decode kernels against a double-precision CPU reference on random inputs (a fresh seed
// each run, printed; OCELLE_TEST_SEED repeats one): Kernels::matvecGeglu (gate/up matvec + GELU
// product) for every weight type in every kernel layout, and Kernels::headNorm (per-head RMSNorm +
// RoPE + KV store) with and without each step, fp32 and fp16 caches. Odd sizes, ragged workgroups,
// weights split into several bindings, ring-buffer wrap. Validation errors must stay zero.
//
// Tolerances (fp32 accumulation against double):
//   matvecGeglu: |err| <= 2e-5 * (1.13 * A_g * |u| + |gelu(g)| * A_u + |y|) + 1e-6, where A_g, A_u are
//     sum_k |w_k x_k| of the gate and up rows (the matvec bound of test_vulkan_kernels carried through
//     the product; |gelu'| <= 1.13) and |y| covers the fp32 rounding of gelu and the product
//   headNorm: |err| <= (1e-5 + 4e-7 * pos + 2e-6) * (|n_i| + |n_pair|) + 1e-6 on the normed values n
//     (rmsnorm's 1e-5 plus rope's fp32-angle bound of test_vulkan_kernels); fp16 caches add the fp16
//     rounding, 2^-11 relative
#include "vulkan_test_support.h"

#include <QtTest>

#include <algorithm>

using namespace ocelle::vulkan;
using namespace ocelle::vulkan::testing;

namespace {

const char* weightName(TensorType t) {
    return ocelle::gguf::typeTraits(uint32_t(t))->name;
}

double geluTanh(double g) {
    return 0.5 * g * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (g + 0.044715 * g * g * g)));
}

} // namespace

class TestVulkanFusedKernels : public QObject {
    Q_OBJECT

    std::unique_ptr<Device> device_;
    std::unique_ptr<Pipelines> pipelines_;
    std::unique_ptr<Kernels> defaults_;  // the device's choice (row per invocation on lavapipe)
    std::unique_ptr<Kernels> plainRows_; // row per invocation without lane broadcasts / 64-bit loads
    std::unique_ptr<Kernels> gpuLike_;   // workgroup-reduction matvec, subgroups, 16/8-bit loads if any
    std::unique_ptr<Kernels> shared_;    // shared-memory reductions, 32-bit loads
    uint32_t seed_ = 0;
    std::mt19937 rng_;

    std::vector<Kernels*> variants() {
        std::vector<Kernels*> v{defaults_.get(), shared_.get(), gpuLike_.get()};
        if (defaults_->laneBroadcast()) v.push_back(plainRows_.get());
        return v;
    }
    static std::string variantName(const Kernels* k) {
        std::string name = k->tuning().rowPerInvocation.value_or(false)
                               ? (k->laneBroadcast() ? "row-per-invocation, lane broadcast"
                                                     : "row-per-invocation, plain loads")
                               : (k->tuning().useSubgroups ? "subgroup" : "shared-memory");
        if (!k->tuning().rowPerInvocation.value_or(false) && k->tuning().narrowLoads)
            name += ", 16/8-bit loads";
        return name;
    }

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
        if (!device_) QSKIP(("Vulkan kernels not tested: " + why).c_str());
        seed_ = testSeed();
        rng_.seed(seed_);
        qInfo("device: %s (%s); seed %u", device_->info().name.c_str(), deviceTypeName(device_->info().type),
              seed_);
        pipelines_ = std::make_unique<Pipelines>(*device_);
        defaults_ = std::make_unique<Kernels>(*pipelines_);
        KernelTuning plainRows;
        plainRows.rowPerInvocation = true;
        plainRows.useSubgroups = false;
        plainRows_ = std::make_unique<Kernels>(*pipelines_, plainRows);
        KernelTuning gpuLike;
        gpuLike.rowPerInvocation = false;
        gpuLike_ = std::make_unique<Kernels>(*pipelines_, gpuLike);
        KernelTuning shared;
        shared.useSubgroups = false;
        shared.matvecRows = 3;
        shared.matvecWorkgroup = 64;
        shared.rowPerInvocation = false;
        shared.narrowLoads = false;
        shared_ = std::make_unique<Kernels>(*pipelines_, shared);
    }

    void cleanupTestCase() {
        if (!device_) return;
        QCOMPARE(device_->validationErrors(), uint64_t(0));
    }

    void matvecGeglu_data() {
        QTest::addColumn<int>("type");
        QTest::addColumn<int>("rows");
        QTest::addColumn<int>("k");
        QTest::addColumn<int>("cols");
        QTest::addColumn<int>("chunkRows"); // 0: one binding
        for (TensorType t : allWeightTypes()) {
            const int b = int(blockElements(t));
            const bool isFloat = b == 1;
            const std::string n = weightName(t);
            QTest::newRow((n + " 37x" + std::to_string(isFloat ? 101 : 7 * b)).c_str())
                << int(t) << 37 << (isFloat ? 101 : 7 * b) << 1 << 0;
            // 4 gate + 4 up rows per lane on CPU-type devices, ragged last workgroup (1100 = 8 x 128 + 76).
            QTest::newRow((n + " 1100x" + std::to_string(isFloat ? 67 : 256)).c_str())
                << int(t) << 1100 << (isFloat ? 67 : 256) << 1 << 0;
            QTest::newRow((n + " 259x1536 split, 2 cols").c_str()) << int(t) << 259 << 1536 << 2 << 50;
        }
    }

    void matvecGeglu() {
        QFETCH(int, type);
        QFETCH(int, rows);
        QFETCH(int, k);
        QFETCH(int, cols);
        QFETCH(int, chunkRows);
        const auto t = TensorType(type);
        const uint64_t chunkBytes = chunkRows ? chunkRows * rowBytes(t, k) : 0;
        const auto gateBytes = randomWeights(t, rows, k, rng_);
        const auto upBytes = randomWeights(t, rows, k, rng_);
        const auto wg = dequantized(t, gateBytes, rows, k);
        const auto wu = dequantized(t, upBytes, rows, k);
        auto gate = WeightTensor::upload(*device_, uint32_t(t), rows, k, gateBytes.data(), 1, chunkBytes);
        auto up = WeightTensor::upload(*device_, uint32_t(t), rows, k, upBytes.data(), 1, chunkBytes);
        if (chunkRows) QVERIFY(gate->chunks().size() > 1);
        const auto x = randomFloats(size_t(cols) * k, rng_);
        std::vector<double> want(size_t(cols) * rows), scale(want.size());
        for (int c = 0; c < cols; ++c)
            for (int r = 0; r < rows; ++r) {
                double g = 0, u = 0, ag = 0, au = 0;
                for (int i = 0; i < k; ++i) {
                    const double xi = x[size_t(c) * k + i];
                    g += double(wg[size_t(r) * k + i]) * xi;
                    u += double(wu[size_t(r) * k + i]) * xi;
                    ag += std::abs(double(wg[size_t(r) * k + i]) * xi);
                    au += std::abs(double(wu[size_t(r) * k + i]) * xi);
                }
                const double y = geluTanh(g) * u;
                want[size_t(c) * rows + r] = y;
                scale[size_t(c) * rows + r] =
                    1.13 * ag * std::abs(u) + std::abs(geluTanh(g)) * au + std::abs(y);
            }
        auto bx = uploadVector(*device_, x);
        Buffer by(*device_, want.size() * 4);
        for (Kernels* kern : variants()) {
            upload(*device_, by, 0, std::vector<float>(want.size(), NAN).data(), want.size() * 4);
            run([&](Recorder& rec) { kern->matvecGeglu(rec, *gate, *up, at(*bx), at(by), uint32_t(cols)); });
            const auto got = readVector(*device_, by, want.size());
            const long bad = firstMismatch(got, want, scale, 2e-5, 1e-6);
            QVERIFY2(bad < 0, (variantName(kern) + " " + mismatchText(bad, got, want, seed_)).c_str());
        }
    }

    void matvecGegluRefusesMismatchedShapes() {
        const int k = 64;
        const auto bytes = randomWeights(TensorType::Q8_0, 8, k, rng_);
        auto gate = WeightTensor::upload(*device_, uint32_t(TensorType::Q8_0), 8, k, bytes.data());
        auto up = WeightTensor::upload(*device_, uint32_t(TensorType::Q8_0), 4, k, bytes.data());
        Buffer x(*device_, k * 4), y(*device_, 8 * 4);
        Recorder rec(*pipelines_);
        rec.begin();
        QVERIFY_THROWS_EXCEPTION(VulkanError, defaults_->matvecGeglu(rec, *gate, *up, at(x), at(y)));
        rec.submitAndWait();
    }

    void headNorm_data() {
        QTest::addColumn<int>("headDim");
        QTest::addColumn<int>("heads");
        QTest::addColumn<int>("tokens");
        QTest::addColumn<bool>("weight");
        QTest::addColumn<bool>("rope");
        QTest::addColumn<bool>("freqFactors");
        QTest::addColumn<int>("store"); // 0 in place, 1 fp32 cache, 2 fp16 cache
        QTest::addColumn<int>("capacity");
        QTest::addColumn<int>("maxPos");
        QTest::newRow("q: 256 x 8 heads, norm + rope, in place")
            << 256 << 8 << 1 << true << true << false << 0 << 0 << 4000;
        QTest::newRow("q: 512 x 3 heads, 3 tokens, rope_freqs")
            << 512 << 3 << 3 << true << true << true << 0 << 0 << 4000;
        QTest::newRow("k: 256, fp32 cache, ring wraps")
            << 256 << 1 << 4 << true << true << false << 1 << 5 << 40;
        QTest::newRow("k: 512 x 2 heads, fp16 cache, rope_freqs")
            << 512 << 2 << 2 << true << true << true << 2 << 9 << 4000;
        QTest::newRow("v: 256, no weight, no rope, fp16 cache")
            << 256 << 1 << 3 << false << false << false << 2 << 7 << 4000;
        QTest::newRow("v: 52 x 7 heads, no weight, no rope, fp32 cache")
            << 52 << 7 << 5 << false << false << false << 1 << 6 << 100;
        QTest::newRow("odd: 52 x 7 heads, rope only, in place, long context")
            << 52 << 7 << 2 << false << true << false << 0 << 0 << 131000;
    }

    void headNorm() {
        QFETCH(int, headDim);
        QFETCH(int, heads);
        QFETCH(int, tokens);
        QFETCH(bool, weight);
        QFETCH(bool, rope);
        QFETCH(bool, freqFactors);
        QFETCH(int, store);
        QFETCH(int, capacity);
        QFETCH(int, maxPos);
        const uint32_t pos0 = std::uniform_int_distribution<uint32_t>(0, uint32_t(maxPos))(rng_);
        const float eps = 1e-6f, base = headDim == 512 ? 1e6f : 1e4f;
        const int half = headDim / 2, row = heads * headDim;
        const auto x = randomFloats(size_t(tokens) * row, rng_, -3.0f, 3.0f);
        const auto w = randomFloats(size_t(headDim), rng_, 0.5f, 1.5f);
        std::vector<float> ff(size_t(half), 1.0f);
        for (int i = half / 4; i < half; ++i)
            ff[size_t(i)] = 1e30f; // as Gemma 4 full layers: some pairs stay

        // Reference: the normed (and rotated) rows in double, with the scale each value's error bound uses.
        std::vector<double> want(x.size()), tol(x.size());
        for (int t = 0; t < tokens; ++t)
            for (int h = 0; h < heads; ++h) {
                const size_t b = (size_t(t) * heads + h) * headDim;
                double ss = 0;
                for (int i = 0; i < headDim; ++i) ss += double(x[b + i]) * x[b + i];
                const double inv = 1.0 / std::sqrt(ss / headDim + eps);
                std::vector<double> nv(static_cast<size_t>(headDim));
                for (int i = 0; i < headDim; ++i)
                    nv[size_t(i)] = x[b + i] * inv * (weight ? w[size_t(i)] : 1.0);
                const double pos = double(pos0 + t);
                const double ropeTol = 1e-5 + (rope ? 4e-7 * pos + 2e-6 : 0.0);
                for (int i = 0; i < half; ++i) {
                    const double x0 = nv[size_t(i)], x1 = nv[size_t(i + half)];
                    double angle = pos * std::pow(double(base), -2.0 * i / headDim);
                    if (freqFactors) angle /= ff[size_t(i)];
                    const double c = rope ? std::cos(angle) : 1.0, s = rope ? std::sin(angle) : 0.0;
                    want[b + i] = x0 * c - x1 * s;
                    want[b + i + half] = x0 * s + x1 * c;
                    tol[b + i] = tol[b + i + half] = ropeTol * (std::abs(x0) + std::abs(x1));
                }
            }

        auto bx = uploadVector(*device_, x);
        auto bw = uploadVector(*device_, w);
        auto bf = uploadVector(*device_, ff);
        const uint32_t cacheWords = uint32_t(capacity * row / (store == 2 ? 2 : 1));
        const std::vector<uint32_t> sentinel(std::max<uint32_t>(cacheWords, 4), 0x7FC0DEADu);
        auto bc = uploadVector(*device_, sentinel);
        for (Kernels* kern : {defaults_.get(), shared_.get()}) {
            upload(*device_, *bx, 0, x.data(), x.size() * 4);
            upload(*device_, *bc, 0, sentinel.data(), sentinel.size() * 4);
            HeadNormArgs args;
            args.x = at(*bx);
            args.headDim = uint32_t(headDim);
            args.heads = uint32_t(heads);
            args.tokens = uint32_t(tokens);
            args.eps = eps;
            if (weight) args.weight = at(*bw);
            args.rope = rope;
            args.ropeBase = base;
            if (freqFactors) args.freqFactors = at(*bf);
            args.pos0 = pos0;
            if (store) {
                args.cache = at(*bc);
                args.capacity = uint32_t(capacity);
                args.cacheF16 = store == 2;
            }
            run([&](Recorder& rec) { kern->headNorm(rec, args); });
            const std::string what = variantName(kern) + ", pos0 " + std::to_string(pos0) + ": ";
            if (!store) {
                const auto got = readVector(*device_, *bx, x.size());
                const long bad = firstMismatch(got, want, tol, 1.0, 1e-6);
                QVERIFY2(bad < 0, (what + mismatchText(bad, got, want, seed_)).c_str());
                continue;
            }
            QCOMPARE(readVector(*device_, *bx, x.size()), x); // stored: x untouched
            const auto words = readVector<uint32_t>(*device_, *bc, sentinel.size());
            std::vector<char> written(size_t(capacity), 0);
            for (int t = 0; t < tokens; ++t) {
                const size_t slot = (pos0 + uint32_t(t)) % uint32_t(capacity);
                written[slot] = 1;
                std::vector<float> got(static_cast<size_t>(row));
                for (int i = 0; i < row; ++i) {
                    if (store == 1) {
                        std::memcpy(&got[size_t(i)], &words[slot * row + size_t(i)], 4);
                    } else {
                        const uint32_t word = words[(slot * row + size_t(i)) / 2];
                        got[size_t(i)] =
                            ocelle::gguf::fp16ToFloat(uint16_t(i % 2 ? word >> 16 : word & 0xFFFF));
                    }
                }
                const std::vector<double> rowWant(want.begin() + long(t) * row,
                                                  want.begin() + long(t + 1) * row);
                std::vector<double> rowTol(tol.begin() + long(t) * row, tol.begin() + long(t + 1) * row);
                if (store == 2)
                    for (int i = 0; i < row; ++i)
                        rowTol[size_t(i)] += std::abs(rowWant[size_t(i)]) * std::ldexp(1.0, -11);
                const long bad = firstMismatch(got, rowWant, rowTol, 1.0, store == 2 ? 6e-8 + 1e-6 : 1e-6);
                QVERIFY2(bad < 0,
                         (what + "token " + std::to_string(t) + " " + mismatchText(bad, got, rowWant, seed_))
                             .c_str());
            }
            const size_t slotWords = store == 2 ? size_t(row / 2) : size_t(row);
            for (int s = 0; s < capacity; ++s)
                if (!written[size_t(s)])
                    for (size_t i = 0; i < slotWords; ++i)
                        QCOMPARE(words[size_t(s) * slotWords + i], sentinel[0]); // other slots untouched
        }
    }

    void headNormRefusesBadShapes() {
        Buffer x(*device_, 1024);
        Recorder rec(*pipelines_);
        rec.begin();
        HeadNormArgs args;
        args.x = at(x);
        args.headDim = 6; // not a multiple of 4
        args.heads = 1;
        QVERIFY_THROWS_EXCEPTION(VulkanError, defaults_->headNorm(rec, args));
        args.headDim = 8;
        args.tokens = 4;
        args.cache = at(x);
        args.capacity = 3; // fewer slots than tokens
        QVERIFY_THROWS_EXCEPTION(VulkanError, defaults_->headNorm(rec, args));
        rec.submitAndWait();
    }
};

QTEST_APPLESS_MAIN(TestVulkanFusedKernels)
#include "test_vulkan_fused_kernels.moc"
