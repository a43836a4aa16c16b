// Every Vulkan kernel against a double-precision CPU reference on random inputs (a fresh seed each
// run, printed; OCELLE_TEST_SEED repeats one), several shapes including odd ones, every weight
// type, both reduction variants (subgroup operations and the shared-memory fallback), and weight
// tensors split into several bindings. Validation errors are counted and must stay zero.
//
// Tolerances (fp32 accumulation against double):
//   matvec / matmul / gather / expert matvec: |err| <= 2e-5 * sum_k |w_k x_k|   (row-wise)
//   rmsnorm, geglu, softmax, softcap, moe weights: |err| <= 1e-5 * |value| + 1e-6
//   rope: |err| <= (4e-7 * pos + 2e-6) * (|x0| + |x1|): the fp32 angle pos * freq carries about one
//         ulp of error (ggml computes it in fp32 too); everything else is exact to a few ulp
//   attention: |err| <= 1e-4 * sum_j p_j |v_j| + 1e-6
//   integer-dot matvec (8-bit activations): the quantization equals cpu::quantizeActivationsQ8 bit for
//         bit; the products |err| <= 2e-5 * sum_b |d_w d_x s_b| against float64 of the same int8 block
//         sums s_b, and against the CPU's q8 kernel (which rounds the same way, in another order)
#include "vulkan_test_support.h"

#include "cpu/kernels.h"

#include <QtTest>

#include <algorithm>
#include <cstring>
#include <numeric>

using namespace ocelle::vulkan;
using namespace ocelle::vulkan::testing;

namespace {
const char* weightName(TensorType t) {
    return ocelle::gguf::typeTraits(uint32_t(t))->name;
}

// The integer-dot kernels' references for `cols` vectors x of k values times Q4_0/Q8_0 weights: the
// CPU's rounding of x (quantizeActivationsQ8), then float64 of the same int8 block sums (want, and
// scale = sum_b |d_w d_x s_b|) and the CPU's q8 kernel (cpu); softcap > 0 caps all three.
struct Q8Reference {
    std::vector<double> want, scale, cpu;
};
Q8Reference q8Reference(TensorType t, const std::vector<uint8_t>& bytes, int rows, int k,
                        const std::vector<float>& x, int cols, double softcap) {
    const bool q4 = t == TensorType::Q4_0;
    const int blocks = k / 32;
    const size_t blockBytes = q4 ? 18 : 34, bytesPerRow = rowBytes(t, k);
    std::vector<uint8_t> xq(size_t(cols) * k);
    std::vector<float> xd(size_t(cols) * k / 4);
    for (int c = 0; c < cols; ++c)
        ocelle::cpu::quantizeActivationsQ8(x.data() + size_t(c) * k, k, xq.data() + size_t(c) * k,
                                           xd.data() + size_t(c) * k / 4);
    Q8Reference ref;
    ref.want.resize(size_t(cols) * rows);
    ref.scale.resize(ref.want.size());
    for (int c = 0; c < cols; ++c)
        for (int r = 0; r < rows; ++r) {
            double s = 0, a = 0;
            for (int b = 0; b < blocks; ++b) {
                const uint8_t* block = bytes.data() + size_t(r) * bytesPerRow + size_t(b) * blockBytes;
                uint16_t half;
                std::memcpy(&half, block, 2);
                int32_t sum = 0;
                for (int i = 0; i < 32; ++i) {
                    const int weight = q4 ? (i < 16 ? block[2 + i] & 0xF : block[2 + i - 16] >> 4) - 8
                                          : int(int8_t(block[2 + i]));
                    sum += weight * (int(xq[size_t(c) * k + b * 32 + i]) - 128);
                }
                const double term =
                    double(ocelle::gguf::fp16ToFloat(half)) *
                    double(xd[(size_t(c) * k / 4) + size_t(b) * ocelle::cpu::kQ8ScalesPerBlock]) * sum;
                s += term;
                a += std::abs(term);
            }
            ref.want[size_t(c) * rows + r] = softcap > 0 ? softcap * std::tanh(s / softcap) : s;
            ref.scale[size_t(c) * rows + r] = a;
        }
    std::vector<float> cpuOut(ref.want.size());
    const auto gemm = q4 ? ocelle::cpu::kernels().gemmQ4_0Q8 : ocelle::cpu::kernels().gemmQ8_0Q8;
    gemm(bytes.data(), int64_t(bytesPerRow), rows, xq.data(), xd.data(), cols, k, cpuOut.data(), rows);
    for (float v : cpuOut)
        ref.cpu.push_back(softcap > 0 ? softcap * std::tanh(double(v) / softcap) : double(v));
    return ref;
}
} // namespace

class TestVulkanKernels : public QObject {
    Q_OBJECT

    std::unique_ptr<Device> device_;
    std::unique_ptr<Pipelines> pipelines_;
    std::unique_ptr<Kernels> subgroup_;
    std::unique_ptr<Kernels> shared_;
    std::unique_ptr<Kernels> reduction_;
    std::unique_ptr<Kernels> plainRows_; // row per invocation without lane broadcasts / 64-bit loads
    uint32_t seed_ = 0;
    std::mt19937 rng_;

    // Every code path the device can take: the device's defaults (on a CPU-type device the
    // row-per-invocation matvec/prefill), the shared-memory reductions with tiled matmul, and the
    // subgroup reductions where the device has them.
    std::vector<Kernels*> variants() {
        std::vector<Kernels*> v{subgroup_.get(), shared_.get()};
        if (reduction_->tuning().useSubgroups) v.push_back(reduction_.get());
        if (subgroup_->laneBroadcast()) v.push_back(plainRows_.get());
        return v;
    }
    const char* variantName(const Kernels* k) {
        if (k->tuning().rowPerInvocation.value_or(false))
            return k->laneBroadcast() ? "row-per-invocation, lane broadcast"
                                      : "row-per-invocation, plain loads";
        if (k->tuning().narrowLoads)
            return k->tuning().useSubgroups ? "subgroup, 16/8-bit loads" : "shared-memory, 16/8-bit loads";
        return k->tuning().useSubgroups ? "subgroup" : "shared-memory";
    }

    // Records f(recorder) and runs it to completion.
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
        subgroup_ = std::make_unique<Kernels>(*pipelines_);
        KernelTuning fallback;
        fallback.useSubgroups = false;
        fallback.matvecRows = 3; // a different tuning too
        fallback.matvecWorkgroup = 64;
        fallback.rowPerInvocation = false;
        fallback.narrowLoads = false;
        shared_ = std::make_unique<Kernels>(*pipelines_, fallback);
        KernelTuning gpuLike;
        gpuLike.rowPerInvocation = false;
        reduction_ = std::make_unique<Kernels>(*pipelines_, gpuLike);
        KernelTuning plainRows;
        plainRows.rowPerInvocation = true;
        plainRows.useSubgroups = false;
        plainRows_ = std::make_unique<Kernels>(*pipelines_, plainRows);
    }

    void cleanupTestCase() {
        if (!device_) return;
        QCOMPARE(device_->validationErrors(), uint64_t(0));
    }

    void matvec_data() {
        QTest::addColumn<int>("type");
        QTest::addColumn<int>("rows");
        QTest::addColumn<int>("k");
        QTest::addColumn<int>("cols");
        QTest::addColumn<int>("chunkRows"); // 0: one binding
        for (TensorType t : allWeightTypes()) {
            const int b = int(blockElements(t));
            const bool isFloat = b == 1;
            const int odd = isFloat ? 37 : 3 * b;
            const std::string n = weightName(t);
            QTest::newRow((n + " 1x" + std::to_string(odd)).c_str()) << int(t) << 1 << odd << 1 << 0;
            QTest::newRow((n + " 37x" + std::to_string(isFloat ? 100 : 7 * b)).c_str())
                << int(t) << 37 << (isFloat ? 100 : 7 * b) << 1 << 0;
            QTest::newRow((n + " 259x1536 split").c_str()) << int(t) << 259 << 1536 << 1 << 50;
            QTest::newRow((n + " 66x2816 3 cols").c_str())
                << int(t) << 66 << (b == 256 ? 2816 : 2816) << 3 << 0;
            // 8 rows per lane on CPU-type devices (1100 = 4 x 256 + 76).
            QTest::newRow((n + " 1100x" + std::to_string(isFloat ? 67 : 256) + " (rows per lane)").c_str())
                << int(t) << 1100 << (isFloat ? 67 : 256) << 1 << 0;
        }
    }

    void matvec() {
        QFETCH(int, type);
        QFETCH(int, rows);
        QFETCH(int, k);
        QFETCH(int, cols);
        QFETCH(int, chunkRows);
        const auto t = TensorType(type);
        const auto bytes = randomWeights(t, rows, k, rng_);
        const auto w = dequantized(t, bytes, rows, k);
        auto weights = WeightTensor::upload(*device_, uint32_t(t), rows, k, bytes.data(), 1,
                                            chunkRows ? chunkRows * rowBytes(t, k) : 0);
        if (chunkRows) QVERIFY(weights->chunks().size() > 1);
        const auto x = randomFloats(size_t(cols) * k, rng_);
        std::vector<double> want(size_t(cols) * rows), scale(want.size());
        for (int c = 0; c < cols; ++c)
            for (int r = 0; r < rows; ++r) {
                double s = 0, a = 0;
                for (int i = 0; i < k; ++i) {
                    s += double(w[size_t(r) * k + i]) * x[size_t(c) * k + i];
                    a += std::abs(double(w[size_t(r) * k + i]) * x[size_t(c) * k + i]);
                }
                want[size_t(c) * rows + r] = s;
                scale[size_t(c) * rows + r] = a;
            }
        auto bx = uploadVector(*device_, x);
        Buffer by(*device_, want.size() * 4);
        for (Kernels* kern : variants()) {
            run([&](Recorder& rec) { kern->matvec(rec, *weights, at(*bx), at(by), cols); });
            const auto got = readVector(*device_, by, want.size());
            const long bad = firstMismatch(got, want, scale, 2e-5);
            QVERIFY2(bad < 0,
                     (std::string(variantName(kern)) + " " + mismatchText(bad, got, want, seed_)).c_str());
        }
    }

    void matvecSoftcap() {
        const int rows = 300, k = 256;
        const auto bytes = randomWeights(TensorType::Q8_0, rows, k, rng_);
        const auto w = dequantized(TensorType::Q8_0, bytes, rows, k);
        auto weights = WeightTensor::upload(*device_, uint32_t(TensorType::Q8_0), rows, k, bytes.data());
        const auto x = randomFloats(k, rng_, -20.0f, 20.0f); // logits well beyond the cap
        std::vector<double> want(rows), scale(rows);
        for (int r = 0; r < rows; ++r) {
            double s = 0, a = 0;
            for (int i = 0; i < k; ++i) {
                s += double(w[size_t(r) * k + i]) * x[i];
                a += std::abs(double(w[size_t(r) * k + i]) * x[i]);
            }
            want[r] = 30.0 * std::tanh(s / 30.0);
            scale[r] = a;
        }
        auto bx = uploadVector(*device_, x);
        Buffer by(*device_, rows * 4);
        run([&](Recorder& rec) { subgroup_->matvec(rec, *weights, at(*bx), at(by), 1, 0, 0, 30.0f); });
        const auto got = readVector(*device_, by, rows);
        const long bad = firstMismatch(got, want, scale, 2e-5);
        QVERIFY2(bad < 0, mismatchText(bad, got, want, seed_).c_str());
    }

    // The integer-dot path's activation rounding against the CPU's (the default ISA level and the
    // portable one): the same int8 values and the same fp32 scales, bit for bit. Blocks of random
    // magnitude (1e-6 .. 1e4), an all-zero block, and a block of exact ties (max 127: x * 1 = k + 0.5,
    // rounded to even).
    void quantizeQ8_data() {
        QTest::addColumn<int>("k");
        QTest::addColumn<int>("cols");
        QTest::addColumn<int>("xPad"); // extra floats between columns of x
        QTest::newRow("1 block") << 32 << 1 << 0;
        QTest::newRow("3 blocks x 5 cols, strided") << 96 << 5 << 7;
        QTest::newRow("67 blocks x 2 cols") << 32 * 67 << 2 << 0;
        QTest::newRow("1536 x 3 cols") << 1536 << 3 << 32;
    }

    void quantizeQ8() {
        QFETCH(int, k);
        QFETCH(int, cols);
        QFETCH(int, xPad);
        if (!device_->features().integerDotProduct) QSKIP("the device has no shaderIntegerDotProduct");
        const int stride = k + xPad;
        auto x = randomFloats(size_t(cols) * stride, rng_);
        std::uniform_real_distribution<float> decades(-6.0f, 4.0f);
        for (int c = 0; c < cols; ++c)
            for (int b = 0; b < k / 32; ++b) {
                float* block = x.data() + size_t(c) * stride + b * 32;
                const float magnitude = std::pow(10.0f, decades(rng_));
                for (int i = 0; i < 32; ++i) block[i] *= magnitude;
            }
        std::fill_n(x.begin(), 32, 0.0f); // an all-zero block: scale 0, quants 0
        if (k / 32 > 1) {
            float* ties = x.data() + 32; // max 127 makes the inverse 1: every x + 0.5 is a tie
            for (int i = 0; i < 32; ++i) ties[i] = float(i * 8 % 253 - 126) + (i % 2 ? 0.5f : 0.0f);
            ties[5] = 127.0f;
            ties[7] = -0.5f;
            ties[9] = 2.5f;
        }
        auto bx = uploadVector(*device_, x);
        const uint32_t qWords = uint32_t(k / 4), dCount = uint32_t(k / 32);
        Buffer quants(*device_, size_t(cols) * qWords * 4 + 4),
            scales(*device_, size_t(cols) * dCount * 4 + 4);
        KernelTuning tuning;
        tuning.integerDot = true;
        Kernels kern(*pipelines_, tuning);
        run([&](Recorder& rec) {
            kern.quantizeQ8(rec, at(*bx), at(quants, 1), at(scales, 1), uint32_t(k), uint32_t(cols),
                            uint32_t(stride));
        });
        const auto gotQ = readVector<int8_t>(*device_, quants, size_t(cols) * k, 4);
        const auto gotD = readVector<uint32_t>(*device_, scales, size_t(cols) * dCount, 1);
        for (const auto* table : {&ocelle::cpu::kernels(), &ocelle::cpu::detail::portableKernels()}) {
            std::vector<uint8_t> q(static_cast<size_t>(k));
            std::vector<float> d(static_cast<size_t>(k / 4));
            for (int c = 0; c < cols; ++c) {
                table->quantizeQ8(x.data() + size_t(c) * stride, k, q.data(), d.data());
                for (int i = 0; i < k; ++i)
                    QVERIFY2(int(gotQ[size_t(c) * k + i]) == int(q[size_t(i)]) - 128,
                             qPrintable(QString("%1: column %2 value %3 (x %4): device %5, CPU %6 (seed %7)")
                                            .arg(ocelle::cpu::isaName(table->isa))
                                            .arg(c)
                                            .arg(i)
                                            .arg(double(x[size_t(c) * stride + i]), 0, 'g', 9)
                                            .arg(int(gotQ[size_t(c) * k + i]))
                                            .arg(int(q[size_t(i)]) - 128)
                                            .arg(seed_)));
                for (int b = 0; b < k / 32; ++b) {
                    uint32_t bits;
                    std::memcpy(&bits, &d[size_t(b) * ocelle::cpu::kQ8ScalesPerBlock], 4);
                    QVERIFY2(gotD[size_t(c) * dCount + b] == bits,
                             qPrintable(QString("column %1 block %2: scale bits %3 vs CPU %4 (seed %5)")
                                            .arg(c)
                                            .arg(b)
                                            .arg(gotD[size_t(c) * dCount + b], 8, 16)
                                            .arg(bits, 8, 16)
                                            .arg(seed_)));
                }
            }
        }
    }

    // The integer-dot matvec (Kernels::matvec with integerDot on: quantize, then packed 4x8-bit dot
    // products) against float64 of the same int8 products and against the CPU's q8 kernel, with both
    // reductions (subgroup operations, shared memory), weight chunks, several columns and a softcap.
    void matvecQ8_data() {
        QTest::addColumn<int>("type");
        QTest::addColumn<int>("rows");
        QTest::addColumn<int>("k");
        QTest::addColumn<int>("cols");
        QTest::addColumn<int>("chunkRows");
        QTest::addColumn<double>("softcap");
        for (TensorType t : {TensorType::Q8_0, TensorType::Q4_0}) {
            const std::string n = weightName(t);
            QTest::newRow((n + " 1x96").c_str()) << int(t) << 1 << 96 << 1 << 0 << 0.0;
            QTest::newRow((n + " 37x224").c_str()) << int(t) << 37 << 224 << 1 << 0 << 0.0;
            QTest::newRow((n + " 259x1536 split").c_str()) << int(t) << 259 << 1536 << 1 << 50 << 0.0;
            QTest::newRow((n + " 66x2816 3 cols").c_str()) << int(t) << 66 << 2816 << 3 << 0 << 0.0;
            QTest::newRow((n + " 1100x256 softcap").c_str()) << int(t) << 1100 << 256 << 1 << 0 << 0.5;
        }
    }

    void matvecQ8() {
        QFETCH(int, type);
        QFETCH(int, rows);
        QFETCH(int, k);
        QFETCH(int, cols);
        QFETCH(int, chunkRows);
        QFETCH(double, softcap);
        if (!device_->features().integerDotProduct) QSKIP("the device has no shaderIntegerDotProduct");
        if (!std::getenv("OCELLE_VULKAN_INTEGER_DOT"))
            QCOMPARE(subgroup_->integerDot(), device_->features().integerDotProductAccelerated);
        const auto t = TensorType(type);
        const auto bytes = randomWeights(t, rows, k, rng_);
        auto weights = WeightTensor::upload(*device_, uint32_t(t), rows, k, bytes.data(), 1,
                                            chunkRows ? chunkRows * rowBytes(t, k) : 0);
        if (chunkRows) QVERIFY(weights->chunks().size() > 1);
        const auto x = randomFloats(size_t(cols) * k, rng_, -3.0f, 3.0f);
        const Q8Reference ref = q8Reference(t, bytes, rows, k, x, cols, softcap);
        const auto& want = ref.want;
        const auto& scale = ref.scale;
        auto bx = uploadVector(*device_, x);
        Buffer by(*device_, want.size() * 4);
        for (bool subgroups : {true, false}) {
            KernelTuning tuning;
            tuning.integerDot = true;
            tuning.useSubgroups = subgroups;
            tuning.matvecRows = subgroups ? 2 : 3;
            Kernels kern(*pipelines_, tuning);
            QVERIFY(kern.integerDot());
            run([&](Recorder& rec) {
                kern.matvec(rec, *weights, at(*bx), at(by), cols, 0, 0, float(softcap));
            });
            const auto got = readVector(*device_, by, want.size());
            const std::string variant = kern.tuning().useSubgroups ? "subgroup" : "shared-memory";
            long bad = firstMismatch(got, want, scale, 2e-5, 1e-30);
            QVERIFY2(bad < 0, (variant + " vs float64: " + mismatchText(bad, got, want, seed_)).c_str());
            bad = firstMismatch(got, ref.cpu, scale, 4e-5, 1e-30);
            QVERIFY2(bad < 0, (variant + " vs CPU q8: " + mismatchText(bad, got, ref.cpu, seed_)).c_str());
        }
    }

    // The tiled integer-dot prefill product (Kernels::matmul with integerDot on) against float64 of the
    // same int8 products and the CPU's q8 kernel: ragged tiles in both directions, chunks.
    void matmulQ8_data() {
        QTest::addColumn<int>("type");
        QTest::addColumn<int>("rows");
        QTest::addColumn<int>("k");
        QTest::addColumn<int>("n");
        QTest::addColumn<int>("chunkRows");
        for (TensorType t : {TensorType::Q8_0, TensorType::Q4_0}) {
            const std::string name = weightName(t);
            QTest::newRow((name + " 70x96x5").c_str()) << int(t) << 70 << 96 << 5 << 0;
            QTest::newRow((name + " 130x768x67 split").c_str()) << int(t) << 130 << 768 << 67 << 60;
            QTest::newRow((name + " 600x256x11").c_str()) << int(t) << 600 << 256 << 11 << 0;
        }
    }

    void matmulQ8() {
        QFETCH(int, type);
        QFETCH(int, rows);
        QFETCH(int, k);
        QFETCH(int, n);
        QFETCH(int, chunkRows);
        if (!device_->features().integerDotProduct) QSKIP("the device has no shaderIntegerDotProduct");
        const auto t = TensorType(type);
        const auto bytes = randomWeights(t, rows, k, rng_);
        auto weights = WeightTensor::upload(*device_, uint32_t(t), rows, k, bytes.data(), 1,
                                            chunkRows ? chunkRows * rowBytes(t, k) : 0);
        if (chunkRows) QVERIFY(weights->chunks().size() > 1);
        const auto x = randomFloats(size_t(n) * k, rng_, -3.0f, 3.0f);
        const Q8Reference ref = q8Reference(t, bytes, rows, k, x, n, 0.0);
        auto bx = uploadVector(*device_, x);
        Buffer by(*device_, ref.want.size() * 4);
        KernelTuning tuning;
        tuning.integerDot = true;
        Kernels kern(*pipelines_, tuning);
        run([&](Recorder& rec) { kern.matmul(rec, *weights, at(*bx), at(by), uint32_t(n)); });
        const auto got = readVector(*device_, by, ref.want.size());
        long bad = firstMismatch(got, ref.want, ref.scale, 2e-5, 1e-30);
        QVERIFY2(bad < 0, ("vs float64: " + mismatchText(bad, got, ref.want, seed_)).c_str());
        bad = firstMismatch(got, ref.cpu, ref.scale, 4e-5, 1e-30);
        QVERIFY2(bad < 0, ("vs CPU q8: " + mismatchText(bad, got, ref.cpu, seed_)).c_str());
    }

    void matmul_data() {
        QTest::addColumn<int>("type");
        QTest::addColumn<int>("rows");
        QTest::addColumn<int>("k");
        QTest::addColumn<int>("n");
        QTest::addColumn<int>("chunkRows");
        for (TensorType t : allWeightTypes()) {
            const int b = int(blockElements(t));
            const std::string name = weightName(t);
            QTest::newRow((name + " 70x" + std::to_string(b == 1 ? 45 : 3 * b) + "x5").c_str())
                << int(t) << 70 << (b == 1 ? 45 : 3 * b) << 5 << 0;
            QTest::newRow((name + " 130x768x67 split").c_str()) << int(t) << 130 << 768 << 67 << 60;
            // Enough rows for 4 rows per lane in the CPU-device layout (600 = 4 x 128 + 88: a ragged
            // last workgroup).
            QTest::newRow((name + " 600x" + std::to_string(b == 1 ? 67 : 256) + "x11").c_str())
                << int(t) << 600 << (b == 1 ? 67 : 256) << 11 << 0;
        }
    }

    void matmul() {
        QFETCH(int, type);
        QFETCH(int, rows);
        QFETCH(int, k);
        QFETCH(int, n);
        QFETCH(int, chunkRows);
        const auto t = TensorType(type);
        const auto bytes = randomWeights(t, rows, k, rng_);
        const auto w = dequantized(t, bytes, rows, k);
        auto weights = WeightTensor::upload(*device_, uint32_t(t), rows, k, bytes.data(), 1,
                                            chunkRows ? chunkRows * rowBytes(t, k) : 0);
        const auto x = randomFloats(size_t(n) * k, rng_);
        std::vector<double> want(size_t(n) * rows), scale(want.size());
        for (int c = 0; c < n; ++c)
            for (int r = 0; r < rows; ++r) {
                double s = 0, a = 0;
                for (int i = 0; i < k; ++i) {
                    const double p = double(w[size_t(r) * k + i]) * x[size_t(c) * k + i];
                    s += p;
                    a += std::abs(p);
                }
                want[size_t(c) * rows + r] = s;
                scale[size_t(c) * rows + r] = a;
            }
        auto bx = uploadVector(*device_, x);
        Buffer by(*device_, want.size() * 4);
        for (Kernels* kern : variants()) {
            run([&](Recorder& rec) { kern->matmul(rec, *weights, at(*bx), at(by), n); });
            const auto got = readVector(*device_, by, want.size());
            const long bad = firstMismatch(got, want, scale, 2e-5);
            QVERIFY2(bad < 0,
                     (std::string(variantName(kern)) + " " + mismatchText(bad, got, want, seed_)).c_str());
        }
    }

    void rmsNorm_data() {
        QTest::addColumn<int>("n");
        QTest::addColumn<int>("rows");
        QTest::addColumn<bool>("weight");
        QTest::addColumn<bool>("residual");
        QTest::addColumn<bool>("inPlace");
        QTest::newRow("1536 plain") << 1536 << 1 << false << false << false;
        QTest::newRow("256x8 weight (per-head q norm)") << 256 << 8 << true << false << false;
        QTest::newRow("37x5 weight+residual+scale") << 37 << 5 << true << true << false;
        QTest::newRow("1000x3 in place") << 1000 << 3 << true << false << true;
    }

    void rmsNorm() {
        QFETCH(int, n);
        QFETCH(int, rows);
        QFETCH(bool, weight);
        QFETCH(bool, residual);
        QFETCH(bool, inPlace);
        const auto x = randomFloats(size_t(n) * rows, rng_, -50.0f, 50.0f);
        const auto w = randomFloats(n, rng_, -2.0f, 2.0f);
        const auto res = randomFloats(size_t(n) * rows, rng_, -10.0f, 10.0f);
        const float scale = residual ? 0.37f : 1.0f;
        std::vector<double> want(x.size()), tol(x.size());
        for (int r = 0; r < rows; ++r) {
            double ss = 0;
            for (int i = 0; i < n; ++i) ss += double(x[size_t(r) * n + i]) * x[size_t(r) * n + i];
            const double inv = 1.0 / std::sqrt(ss / n + 1e-6);
            for (int i = 0; i < n; ++i) {
                const size_t j = size_t(r) * n + i;
                double v = x[j] * inv * (weight ? w[i] : 1.0);
                if (residual) v += res[j];
                want[j] = v * scale;
                tol[j] = std::abs(x[j] * inv * (weight ? w[i] : 1.0)) + std::abs(residual ? res[j] : 0.0);
            }
        }
        for (Kernels* kern : variants()) {
            auto bx = uploadVector(*device_, x);
            auto bw = uploadVector(*device_, w);
            auto br = uploadVector(*device_, res);
            Buffer out(*device_, x.size() * 4);
            RmsNormArgs a;
            a.x = at(*bx);
            a.out = inPlace ? at(*bx) : at(out);
            a.n = uint32_t(n);
            a.rows = uint32_t(rows);
            if (weight) a.weight = at(*bw);
            if (residual) a.residual = at(*br);
            a.scale = scale;
            run([&](Recorder& rec) { kern->rmsNorm(rec, a); });
            const auto got = readVector(*device_, inPlace ? *bx : out, x.size());
            const long bad = firstMismatch(got, want, tol, 1e-5, 1e-6);
            QVERIFY2(bad < 0,
                     (std::string(variantName(kern)) + " " + mismatchText(bad, got, want, seed_)).c_str());
        }
    }

    void rope_data() {
        QTest::addColumn<int>("headDim");
        QTest::addColumn<int>("heads");
        QTest::addColumn<int>("tokens");
        QTest::addColumn<double>("base");
        QTest::addColumn<bool>("freqFactors");
        QTest::addColumn<int>("maxPos");
        QTest::newRow("sliding 256, base 1e4") << 256 << 3 << 5 << 1e4 << false << 4000;
        QTest::newRow("full 512, base 1e6, rope_freqs 1/1e30") << 512 << 2 << 4 << 1e6 << true << 4000;
        QTest::newRow("odd heads, head dim 64") << 64 << 7 << 3 << 1e4 << false << 4000;
        QTest::newRow("long context (~128K)") << 256 << 1 << 2 << 1e4 << false << 131000;
    }

    void rope() {
        QFETCH(int, headDim);
        QFETCH(int, heads);
        QFETCH(int, tokens);
        QFETCH(double, base);
        QFETCH(bool, freqFactors);
        QFETCH(int, maxPos);
        const uint32_t pos0 = std::uniform_int_distribution<uint32_t>(0, uint32_t(maxPos))(rng_);
        const auto x = randomFloats(size_t(tokens) * heads * headDim, rng_, -3.0f, 3.0f);
        std::vector<float> ff(headDim / 2, 1.0f);
        for (int i = 64; i < headDim / 2; ++i) ff[i] = 1e30f; // Gemma 4 full layers: only 64 pairs rotate
        std::vector<double> want(x.size()), tol(x.size());
        const int half = headDim / 2;
        for (int t = 0; t < tokens; ++t)
            for (int h = 0; h < heads; ++h)
                for (int i = 0; i < half; ++i) {
                    const size_t b = (size_t(t) * heads + h) * headDim;
                    double angle = double(pos0 + t) * std::pow(base, -2.0 * i / headDim);
                    if (freqFactors) angle /= ff[i];
                    const double x0 = x[b + i], x1 = x[b + i + half];
                    want[b + i] = x0 * std::cos(angle) - x1 * std::sin(angle);
                    want[b + i + half] = x0 * std::sin(angle) + x1 * std::cos(angle);
                    tol[b + i] = tol[b + i + half] = std::abs(x0) + std::abs(x1);
                }
        auto bx = uploadVector(*device_, x);
        auto bf = uploadVector(*device_, ff);
        run([&](Recorder& rec) {
            subgroup_->rope(rec, at(*bx), uint32_t(headDim), uint32_t(heads), uint32_t(tokens), pos0,
                            float(base), freqFactors ? std::optional<View>(at(*bf)) : std::nullopt);
        });
        const auto got = readVector(*device_, *bx, x.size());
        for (float v : got) QVERIFY(std::isfinite(v));
        const long bad = firstMismatch(got, want, tol, 4e-7 * (pos0 + tokens) + 2e-6, 1e-7);
        QVERIFY2(bad < 0, (mismatchText(bad, got, want, seed_) + " pos0 " + std::to_string(pos0)).c_str());
        if (freqFactors) // pairs with factor 1e30 must come out unrotated
            for (int i = 64; i < half; ++i) QCOMPARE(got[size_t(i)], x[size_t(i)]);
    }

    void geglu() {
        const int n = 1003, rows = 3;
        auto gate = randomFloats(size_t(n) * rows, rng_, -8.0f, 8.0f);
        gate[0] = 1e4f; // tanh saturates: no NaN/inf
        gate[1] = -1e4f;
        gate[2] = 0.0f;
        const auto up = randomFloats(size_t(n) * rows, rng_, -3.0f, 3.0f);
        std::vector<double> want(gate.size()), tol(gate.size());
        for (size_t i = 0; i < gate.size(); ++i) {
            const double g = gate[i];
            const double gelu =
                0.5 * g * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (g + 0.044715 * g * g * g)));
            want[i] = gelu * up[i];
            tol[i] = std::abs(want[i]) + std::abs(g * up[i]) * 1e-2; // tanh(large) rounding near 0
        }
        auto bg = uploadVector(*device_, gate);
        auto bu = uploadVector(*device_, up);
        Buffer out(*device_, gate.size() * 4);
        run([&](Recorder& rec) { subgroup_->geglu(rec, at(*bg), at(*bu), at(out), n, rows); });
        const auto got = readVector(*device_, out, gate.size());
        const long bad = firstMismatch(got, want, tol, 1e-5, 1e-6);
        QVERIFY2(bad < 0, mismatchText(bad, got, want, seed_).c_str());
    }

    void softmaxAndSoftcap() {
        const int n = 262, rows = 3;
        const auto x = randomFloats(size_t(n) * rows, rng_, -30.0f, 30.0f);
        std::vector<double> want(x.size()), tol(x.size());
        for (int r = 0; r < rows; ++r) {
            double m = -1e300, s = 0;
            for (int i = 0; i < n; ++i) m = std::max(m, 0.5 * x[size_t(r) * n + i]);
            for (int i = 0; i < n; ++i) s += std::exp(0.5 * x[size_t(r) * n + i] - m);
            for (int i = 0; i < n; ++i) {
                want[size_t(r) * n + i] = std::exp(0.5 * x[size_t(r) * n + i] - m) / s;
                tol[size_t(r) * n + i] = want[size_t(r) * n + i];
            }
        }
        for (Kernels* kern : variants()) {
            auto bx = uploadVector(*device_, x);
            run([&](Recorder& rec) { kern->softmax(rec, at(*bx), n, rows, 0, 0.5f); });
            const auto got = readVector(*device_, *bx, x.size());
            const long bad = firstMismatch(got, want, tol, 2e-5, 1e-9);
            QVERIFY2(bad < 0,
                     (std::string(variantName(kern)) + " " + mismatchText(bad, got, want, seed_)).c_str());
        }

        auto logits = randomFloats(1001, rng_, -300.0f, 300.0f);
        logits[0] = 1e30f;
        std::vector<double> capped(logits.size()), ctol(logits.size());
        for (size_t i = 0; i < logits.size(); ++i) {
            capped[i] = 30.0 * std::tanh(logits[i] / 30.0);
            ctol[i] = std::abs(capped[i]);
        }
        auto bl = uploadVector(*device_, logits);
        run([&](Recorder& rec) { subgroup_->softcap(rec, at(*bl, 1), 1000, 30.0f); }); // offset view too
        auto got = readVector(*device_, *bl, logits.size());
        QCOMPARE(got[0], logits[0]); // outside the view: untouched
        got[0] = 30.0f;
        capped[0] = 30.0;
        const long bad = firstMismatch(got, capped, ctol, 1e-5, 1e-6);
        QVERIFY2(bad < 0, mismatchText(bad, got, capped, seed_).c_str());
    }

    void attention_data() {
        QTest::addColumn<int>("headDim");
        QTest::addColumn<int>("heads");
        QTest::addColumn<int>("kvHeads");
        QTest::addColumn<int>("window"); // 0: full
        QTest::addColumn<int>("capacity");
        QTest::addColumn<int>("pos0");
        QTest::addColumn<int>("tokens");
        QTest::addColumn<int>("splits"); // 0: automatic
        QTest::addColumn<double>("scale");
        QTest::newRow("decode sliding 256, GQA 4, ring wrapped")
            << 256 << 8 << 2 << 16 << 20 << 57 << 1 << 0 << 1.0;
        QTest::newRow("decode sliding, 3 splits") << 256 << 4 << 1 << 40 << 45 << 300 << 1 << 3 << 1.0;
        QTest::newRow("decode full 512, auto splits") << 512 << 4 << 2 << 0 << 700 << 650 << 1 << 0 << 1.0;
        QTest::newRow("decode full, first token") << 512 << 2 << 1 << 0 << 8 << 0 << 1 << 0 << 1.0;
        QTest::newRow("decode odd dim 72, 5 splits, scale")
            << 72 << 6 << 3 << 0 << 50 << 33 << 1 << 5 << 0.125;
        QTest::newRow("prefill full 512") << 512 << 4 << 2 << 0 << 64 << 10 << 7 << 1 << 1.0;
        QTest::newRow("prefill sliding, wraps") << 256 << 8 << 1 << 5 << 12 << 30 << 7 << 1 << 1.0;
        QTest::newRow("prefill from 0, split 2") << 256 << 2 << 2 << 0 << 16 << 0 << 9 << 2 << 1.0;
    }

    void attention() {
        QFETCH(int, headDim);
        QFETCH(int, heads);
        QFETCH(int, kvHeads);
        QFETCH(int, window);
        QFETCH(int, capacity);
        QFETCH(int, pos0);
        QFETCH(int, tokens);
        QFETCH(int, splits);
        QFETCH(double, scale);
        const int D = headDim, kvRow = kvHeads * D;
        const int positions = pos0 + tokens;
        const float spread = 2.0f / std::sqrt(float(D)); // scores of order 1..10
        const auto keys = randomFloats(size_t(positions) * kvRow, rng_, -spread * 3, spread * 3);
        const auto values = randomFloats(size_t(positions) * kvRow, rng_, -2.0f, 2.0f);
        const auto q = randomFloats(size_t(tokens) * heads * D, rng_, -1.0f, 1.0f);

        // Both cache types: fp32, and fp16 (values rounded to nearest even when stored; the reference
        // uses the rounded values, so the tolerance is the fp32 one).
        for (const bool f16 : {false, true}) {
            const auto stored = [&](const std::vector<float>& v) {
                if (!f16) return v;
                std::vector<float> r(v.size());
                for (size_t i = 0; i < v.size(); ++i)
                    r[i] = ocelle::gguf::fp16ToFloat(ocelle::gguf::floatToFp16(v[i]));
                return r;
            };
            attentionCase(D, heads, kvHeads, window, capacity, pos0, tokens, splits, scale, q, keys, values,
                          stored(keys), stored(values), f16);
        }
    }

private:
    void attentionCase(int D, int heads, int kvHeads, int window, int capacity, int pos0, int tokens,
                       int splits, double scale, const std::vector<float>& q, const std::vector<float>& keys,
                       const std::vector<float>& values, const std::vector<float>& refKeys,
                       const std::vector<float>& refValues, bool f16) {
        const int kvRow = kvHeads * D;
        // The cache as decode would leave it: positions before pos0 written in order into the ring
        // (later ones overwrite earlier), the new tokens stored by the kv_store kernel.
        std::vector<float> kRing(size_t(capacity) * kvRow, 0.0f), vRing(kRing.size(), 0.0f);
        for (int p = 0; p < pos0; ++p) {
            std::copy_n(keys.begin() + size_t(p) * kvRow, kvRow,
                        kRing.begin() + size_t(p % capacity) * kvRow);
            std::copy_n(values.begin() + size_t(p) * kvRow, kvRow,
                        vRing.begin() + size_t(p % capacity) * kvRow);
        }
        // fp16 caches hold pairs packed in 32-bit words, the first element in the low half.
        const auto cacheWords = [&](const std::vector<float>& ring) {
            std::vector<uint32_t> w(f16 ? ring.size() / 2 : ring.size());
            for (size_t i = 0; i < w.size(); ++i) {
                if (f16)
                    w[i] = uint32_t(ocelle::gguf::floatToFp16(ring[2 * i])) |
                           uint32_t(ocelle::gguf::floatToFp16(ring[2 * i + 1])) << 16;
                else
                    std::memcpy(&w[i], &ring[i], 4);
            }
            return w;
        };
        std::vector<float> newK(keys.begin() + size_t(pos0) * kvRow, keys.end());
        std::vector<float> newV(values.begin() + size_t(pos0) * kvRow, values.end());

        std::vector<double> want(q.size()), tol(q.size());
        const int group = heads / kvHeads;
        for (int t = 0; t < tokens; ++t) {
            const int pos = pos0 + t;
            const int lo = window ? std::max(0, pos - window + 1) : 0;
            for (int h = 0; h < heads; ++h) {
                const int kvh = h / group;
                std::vector<double> s;
                for (int p = lo; p <= pos; ++p) {
                    double dot = 0;
                    for (int d = 0; d < D; ++d)
                        dot += double(q[(size_t(t) * heads + h) * D + d]) *
                               refKeys[size_t(p) * kvRow + kvh * D + d];
                    s.push_back(dot * scale);
                }
                const double m = *std::max_element(s.begin(), s.end());
                double sum = 0;
                for (double& v : s) sum += (v = std::exp(v - m));
                for (int d = 0; d < D; ++d) {
                    double o = 0, a = 0;
                    for (int p = lo; p <= pos; ++p) {
                        const double v = refValues[size_t(p) * kvRow + kvh * D + d];
                        o += s[p - lo] / sum * v;
                        a += s[p - lo] / sum * std::abs(v);
                    }
                    want[(size_t(t) * heads + h) * D + d] = o;
                    tol[(size_t(t) * heads + h) * D + d] = a;
                }
            }
        }

        for (Kernels* kern : variants()) {
            auto bk = uploadVector(*device_, cacheWords(kRing));
            auto bv = uploadVector(*device_, cacheWords(vRing));
            auto bnk = uploadVector(*device_, newK);
            auto bnv = uploadVector(*device_, newV);
            auto bq = uploadVector(*device_, q);
            Buffer out(*device_, q.size() * 4);
            AttentionArgs a;
            a.q = at(*bq);
            a.kCache = at(*bk);
            a.vCache = at(*bv);
            a.kvF16 = f16;
            a.out = at(out);
            a.headDim = uint32_t(D);
            a.heads = uint32_t(heads);
            a.kvHeads = uint32_t(kvHeads);
            a.capacity = uint32_t(capacity);
            a.pos0 = uint32_t(pos0);
            a.tokens = uint32_t(tokens);
            a.window = uint32_t(window);
            a.scale = float(scale);
            a.splits = uint32_t(splits);
            const uint32_t used = kern->attentionSplits([&] {
                AttentionArgs probe = a;
                probe.scratch = View{}; // only whether one is given matters
                return probe;
            }());
            Buffer scratch(*device_,
                           (Kernels::attentionScratchElements(heads, D, std::max(used, 1u), tokens) + 7) * 4);
            a.scratch = at(scratch, 3); // an unaligned offset on purpose
            Recorder rec(*pipelines_);
            rec.begin();
            kern->kvStore(rec, at(*bnk), at(*bk), uint32_t(kvRow), uint32_t(tokens), uint32_t(pos0),
                          uint32_t(capacity), 0, f16);
            kern->kvStore(rec, at(*bnv), at(*bv), uint32_t(kvRow), uint32_t(tokens), uint32_t(pos0),
                          uint32_t(capacity), 0, f16);
            kern->attention(rec, a);
            rec.submitAndWait();
            if (splits == 0 && tokens == 1 && pos0 >= 256) QVERIFY(used > 1); // automatic split engaged
            const auto got = readVector(*device_, out, q.size());
            const long bad = firstMismatch(got, want, tol, 1e-4, 1e-6);
            QVERIFY2(bad < 0, (std::string(variantName(kern)) + (f16 ? " f16 cache" : " f32 cache") +
                               " splits " + std::to_string(used) + " " + mismatchText(bad, got, want, seed_))
                                  .c_str());
        }
    }

private slots:
    void kvStoreRing() {
        const int rowFloats = 24, capacity = 5, pos0 = 13, tokens = 4;
        const auto src = randomFloats(size_t(tokens) * rowFloats, rng_);
        std::vector<float> cache(size_t(capacity) * rowFloats, -7.0f);
        auto bc = uploadVector(*device_, cache);
        auto bs = uploadVector(*device_, src);
        run([&](Recorder& rec) {
            subgroup_->kvStore(rec, at(*bs), at(*bc), rowFloats, tokens, pos0, capacity);
        });
        for (int t = 0; t < tokens; ++t)
            std::copy_n(src.begin() + size_t(t) * rowFloats, rowFloats,
                        cache.begin() + size_t((pos0 + t) % capacity) * rowFloats);
        QCOMPARE(readVector(*device_, *bc, cache.size()), cache);

        // fp16: pairs rounded to nearest even, packed low half first, into a ring of half the words.
        std::vector<uint32_t> packed(size_t(capacity) * rowFloats / 2, 0xDEADBEEFu);
        auto bp = uploadVector(*device_, packed);
        run([&](Recorder& rec) {
            subgroup_->kvStore(rec, at(*bs), at(*bp), rowFloats, tokens, pos0, capacity, 0, true);
        });
        for (int t = 0; t < tokens; ++t)
            for (int i = 0; i < rowFloats / 2; ++i) {
                const float* pair = src.data() + size_t(t) * rowFloats + 2 * i;
                packed[size_t((pos0 + t) % capacity) * rowFloats / 2 + i] =
                    uint32_t(ocelle::gguf::floatToFp16(pair[0])) |
                    uint32_t(ocelle::gguf::floatToFp16(pair[1])) << 16;
            }
        QCOMPARE(readVector<uint32_t>(*device_, *bp, packed.size()), packed);
    }

    void gather_data() {
        QTest::addColumn<int>("type");
        QTest::addColumn<int>("k");
        QTest::addColumn<int>("chunkRows");
        for (TensorType t : allWeightTypes()) {
            const int b = int(blockElements(t));
            QTest::newRow(weightName(t)) << int(t) << (b == 1 ? 77 : 2 * b) << 0;
            QTest::newRow((std::string(weightName(t)) + " split").c_str())
                << int(t) << (b == 256 ? 512 : 96) << 7;
        }
    }

    void gather() {
        QFETCH(int, type);
        QFETCH(int, k);
        QFETCH(int, chunkRows);
        const auto t = TensorType(type);
        const int vocab = 50, tokens = 6;
        const auto bytes = randomWeights(t, vocab, k, rng_);
        const auto table = dequantized(t, bytes, vocab, k);
        auto weights = WeightTensor::upload(*device_, uint32_t(t), vocab, k, bytes.data(), 1,
                                            chunkRows ? chunkRows * rowBytes(t, k) : 0);
        std::vector<uint32_t> ids(tokens);
        for (auto& id : ids) id = std::uniform_int_distribution<uint32_t>(0, vocab - 1)(rng_);
        ids[0] = vocab - 1;
        ids[1] = 0;
        const float scale = std::sqrt(float(k));
        std::vector<double> want(size_t(tokens) * k), tol(want.size());
        for (int i = 0; i < tokens; ++i)
            for (int j = 0; j < k; ++j) {
                want[size_t(i) * k + j] = double(table[size_t(ids[i]) * k + j]) * scale;
                tol[size_t(i) * k + j] = std::abs(want[size_t(i) * k + j]);
            }
        auto bi = uploadVector(*device_, ids);
        Buffer out(*device_, want.size() * 4);
        run([&](Recorder& rec) { subgroup_->gather(rec, *weights, at(*bi), at(out), tokens, scale); });
        const auto got = readVector(*device_, out, want.size());
        const long bad = firstMismatch(got, want, tol, 1e-6, 1e-12);
        QVERIFY2(bad < 0, mismatchText(bad, got, want, seed_).c_str());
    }

    void moeRoute() {
        const int experts = 128, k = 8, tokens = 3;
        const auto logits = randomFloats(size_t(experts) * tokens, rng_, -4.0f, 4.0f);
        for (Kernels* kern : variants()) {
            auto bl = uploadVector(*device_, logits);
            Buffer ids(*device_, size_t(tokens) * k * 4), weights(*device_, size_t(tokens) * k * 4);
            run([&](Recorder& rec) {
                kern->moeRoute(rec, at(*bl), at(ids), at(weights), experts, k, tokens);
            });
            const auto gotIds = readVector<uint32_t>(*device_, ids, size_t(tokens) * k);
            const auto gotW = readVector(*device_, weights, size_t(tokens) * k);
            for (int t = 0; t < tokens; ++t) {
                std::vector<double> p(experts);
                double m = -1e300, sum = 0;
                for (int e = 0; e < experts; ++e) m = std::max(m, double(logits[size_t(t) * experts + e]));
                for (int e = 0; e < experts; ++e) sum += p[e] = std::exp(logits[size_t(t) * experts + e] - m);
                for (double& v : p) v /= sum;
                std::vector<int> order(experts);
                std::iota(order.begin(), order.end(), 0);
                std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return p[a] > p[b]; });
                double kept = 0;
                for (int j = 0; j < k; ++j) kept += p[order[j]];
                for (int j = 0; j < k; ++j) {
                    QCOMPARE(gotIds[size_t(t) * k + j], uint32_t(order[j]));
                    const double want = p[order[j]] / kept;
                    QVERIFY2(std::abs(gotW[size_t(t) * k + j] - want) <= 1e-5 * want + 1e-7,
                             ("weight " + std::to_string(gotW[size_t(t) * k + j]) + " want " +
                              std::to_string(want) + " seed " + std::to_string(seed_))
                                 .c_str());
                }
            }
        }
    }

    void moeExperts_data() {
        QTest::addColumn<int>("type");
        QTest::addColumn<bool>("sharedInput");
        for (TensorType t : allWeightTypes()) {
            QTest::newRow((std::string(weightName(t)) + " gate_up (shared input)").c_str()) << int(t) << true;
            QTest::newRow((std::string(weightName(t)) + " down (per-slot input)").c_str()) << int(t) << false;
        }
    }

    // Expert matvec with ids on the device and the experts split over several bindings, then the
    // weighted combination with per-expert scales.
    void moeExperts() {
        QFETCH(int, type);
        QFETCH(bool, sharedInput);
        const auto t = TensorType(type);
        const int experts = 7, rowsPerExpert = 40, tokens = 2, k = 3;
        const int K = blockElements(t) == 256 ? 256 : 96;
        const auto bytes = randomWeights(t, uint64_t(experts) * rowsPerExpert, K, rng_);
        const auto w = dequantized(t, bytes, uint64_t(experts) * rowsPerExpert, K);
        // Two experts per chunk: four bindings.
        auto weights = WeightTensor::upload(*device_, uint32_t(t), uint64_t(experts) * rowsPerExpert, K,
                                            bytes.data(), rowsPerExpert, 2 * rowsPerExpert * rowBytes(t, K));
        QCOMPARE(weights->chunks().size(), size_t(4));
        std::vector<uint32_t> ids{6, 0, 3, 2, 5, 1};
        std::vector<float> routeW{0.5f, 0.3f, 0.2f, 0.6f, 0.25f, 0.15f};
        const auto expertScale = randomFloats(experts, rng_, 0.5f, 2.0f);
        const int slotCount = tokens * k;
        const auto x = randomFloats(size_t(sharedInput ? tokens : slotCount) * K, rng_);
        std::vector<double> want(size_t(slotCount) * rowsPerExpert), tol(want.size());
        std::vector<double> combined(size_t(tokens) * rowsPerExpert, 0.0), ctol(combined.size(), 0.0);
        for (int s = 0; s < slotCount; ++s) {
            const int xi = sharedInput ? s / k : s;
            for (int r = 0; r < rowsPerExpert; ++r) {
                double acc = 0, a = 0;
                for (int i = 0; i < K; ++i) {
                    const double p =
                        double(w[(size_t(ids[s]) * rowsPerExpert + r) * K + i]) * x[size_t(xi) * K + i];
                    acc += p;
                    a += std::abs(p);
                }
                want[size_t(s) * rowsPerExpert + r] = acc;
                tol[size_t(s) * rowsPerExpert + r] = a;
                const double f = routeW[s] * expertScale[ids[s]];
                combined[size_t(s / k) * rowsPerExpert + r] += f * acc;
                ctol[size_t(s / k) * rowsPerExpert + r] += std::abs(f) * a;
            }
        }
        auto bx = uploadVector(*device_, x);
        auto bids = uploadVector(*device_, ids);
        auto bw = uploadVector(*device_, routeW);
        auto bs = uploadVector(*device_, expertScale);
        Buffer y(*device_, want.size() * 4), out(*device_, combined.size() * 4);
        for (Kernels* kern : variants()) {
            run([&](Recorder& rec) {
                kern->moeMatvec(rec, *weights, at(*bx), at(*bids), at(y), tokens, k, sharedInput);
                kern->moeCombine(rec, at(y), at(*bids), at(*bw), at(*bs), at(out), rowsPerExpert, k, tokens,
                                 false);
            });
            const auto got = readVector(*device_, y, want.size());
            long bad = firstMismatch(got, want, tol, 2e-5);
            QVERIFY2(bad < 0,
                     (std::string(variantName(kern)) + " " + mismatchText(bad, got, want, seed_)).c_str());
            const auto gotC = readVector(*device_, out, combined.size());
            bad = firstMismatch(gotC, combined, ctol, 2e-5);
            QVERIFY2(bad < 0, ("combine " + mismatchText(bad, gotC, combined, seed_)).c_str());
        }
    }

    void moeExpertsQ8_data() {
        QTest::addColumn<int>("type");
        QTest::addColumn<bool>("sharedInput");
        for (TensorType t : {TensorType::Q8_0, TensorType::Q4_0}) {
            QTest::newRow((std::string(weightName(t)) + " gate_up (shared input)").c_str()) << int(t) << true;
            QTest::newRow((std::string(weightName(t)) + " down (per-slot input)").c_str()) << int(t) << false;
        }
    }

    // The integer-dot expert matvec (ids on the device, experts over several bindings) against float64
    // of the same int8 products and the CPU q8 kernel, both reductions.
    void moeExpertsQ8() {
        QFETCH(int, type);
        QFETCH(bool, sharedInput);
        if (!device_->features().integerDotProduct) QSKIP("the device has no shaderIntegerDotProduct");
        const auto t = TensorType(type);
        const int experts = 7, rowsPerExpert = 40, tokens = 2, k = 3, K = 352;
        const auto bytes = randomWeights(t, uint64_t(experts) * rowsPerExpert, K, rng_);
        auto weights = WeightTensor::upload(*device_, uint32_t(t), uint64_t(experts) * rowsPerExpert, K,
                                            bytes.data(), rowsPerExpert, 2 * rowsPerExpert * rowBytes(t, K));
        QCOMPARE(weights->chunks().size(), size_t(4));
        const std::vector<uint32_t> ids{6, 0, 3, 2, 5, 1};
        const int slotCount = tokens * k, inputs = sharedInput ? tokens : slotCount;
        const auto x = randomFloats(size_t(inputs) * K, rng_, -3.0f, 3.0f);
        // Every expert row times every input, then each slot's expert and input picked out.
        const Q8Reference all = q8Reference(t, bytes, experts * rowsPerExpert, K, x, inputs, 0.0);
        Q8Reference ref;
        for (int s = 0; s < slotCount; ++s)
            for (int r = 0; r < rowsPerExpert; ++r) {
                const size_t i = size_t(sharedInput ? s / k : s) * experts * rowsPerExpert +
                                 size_t(ids[size_t(s)]) * rowsPerExpert + r;
                ref.want.push_back(all.want[i]);
                ref.scale.push_back(all.scale[i]);
                ref.cpu.push_back(all.cpu[i]);
            }
        auto bx = uploadVector(*device_, x);
        auto bids = uploadVector(*device_, ids);
        Buffer y(*device_, ref.want.size() * 4);
        for (bool subgroups : {true, false}) {
            KernelTuning tuning;
            tuning.integerDot = true;
            tuning.useSubgroups = subgroups;
            Kernels kern(*pipelines_, tuning);
            run([&](Recorder& rec) {
                kern.moeMatvec(rec, *weights, at(*bx), at(*bids), at(y), tokens, k, sharedInput);
            });
            const auto got = readVector(*device_, y, ref.want.size());
            const std::string variant = subgroups ? "subgroup" : "shared-memory";
            long bad = firstMismatch(got, ref.want, ref.scale, 2e-5, 1e-30);
            QVERIFY2(bad < 0, (variant + " vs float64: " + mismatchText(bad, got, ref.want, seed_)).c_str());
            bad = firstMismatch(got, ref.cpu, ref.scale, 4e-5, 1e-30);
            QVERIFY2(bad < 0, (variant + " vs CPU q8: " + mismatchText(bad, got, ref.cpu, seed_)).c_str());
        }
    }

    // Independent kernels recorded back to back share no barrier; a dependent one gets exactly one.
    void barriersOnlyBetweenDependentDispatches() {
        const int rows = 64, k = 256;
        const auto bytes = randomWeights(TensorType::Q4_0, rows, k, rng_);
        auto weights = WeightTensor::upload(*device_, uint32_t(TensorType::Q4_0), rows, k, bytes.data());
        auto bx = uploadVector(*device_, randomFloats(k, rng_));
        Buffer y(*device_, 3 * rows * 4);
        Recorder rec(*pipelines_);
        rec.begin();
        subgroup_->matvec(rec, *weights, at(*bx), at(y, 0));        // "q"
        subgroup_->matvec(rec, *weights, at(*bx), at(y, rows));     // "k": independent
        subgroup_->matvec(rec, *weights, at(*bx), at(y, 2 * rows)); // "v": independent
        QCOMPARE(rec.barrierCount(), 0u);
        RmsNormArgs norm;
        norm.x = at(y, 0);
        norm.out = at(y, 0);
        norm.n = rows;
        subgroup_->rmsNorm(rec, norm); // reads q: one barrier
        QCOMPARE(rec.barrierCount(), 1u);
        rec.submitAndWait();
        QCOMPARE(rec.dispatchCount(), 4u);
    }
};

QTEST_APPLESS_MAIN(TestVulkanKernels)
#include "test_vulkan_kernels.moc"
