// The CPU kernels on every instruction-set level the dispatcher can pick. The quantized-activation
// mode's integer products on every instruction-set level the dispatcher
// can pick: each level's tiles against a float64 evaluation of the same 8-bit products (they must
// agree to float rounding), and against the exact fp32 product within the bound that rounding the
// activations to 8 bits allows. Row and token counts cover every tile shape and remainder, and
// odd block counts (a half-filled last block pair). The vector GELU and logit soft-cap against float64.
#include "cpu/kernels.h"
#include "cpu/matmul.h"
#include "cpu/thread_pool.h"
#include "gguf/dequant.h"
#include "gguf/tensor_types.h"

#include <QtTest>

#include <cmath>
#include <cstring>
#include <random>

#include "fixture_reference.h"

using namespace ocelle;
using cpu_test::IsaGuard;

namespace {

struct RandomMatrix {
    gguf::TensorType type;
    int64_t rows, cols, rowBytes;
    std::vector<uint8_t> data;
};

RandomMatrix randomMatrix(gguf::TensorType type, int64_t rows, int64_t cols, std::mt19937& rng) {
    const bool q4 = type == gguf::TensorType::Q4_0;
    const int64_t blockBytes = q4 ? 18 : 34;
    RandomMatrix m{type, rows, cols, cols / 32 * blockBytes, {}};
    m.data.resize(static_cast<size_t>(rows * m.rowBytes));
    std::uniform_int_distribution<int> byte(0, 255);
    std::uniform_real_distribution<float> scale(0.001f, 0.05f);
    for (size_t i = 0; i < m.data.size(); ++i) m.data[i] = static_cast<uint8_t>(byte(rng));
    for (size_t at = 0; at < m.data.size(); at += static_cast<size_t>(blockBytes)) {
        const uint16_t d = gguf::floatToFp16(scale(rng));
        std::memcpy(&m.data[at], &d, 2);
    }
    return m;
}

struct ProductInputs {
    std::vector<float> x;
    std::vector<uint8_t> xq;
    std::vector<float> xd;
};

// Runs `run` on `tokens` random activations quantized to 8 bits and checks every output against a
// float64 evaluation of the same 8-bit products (float rounding) and against the exact product
// (within the rounding bound), and that entries outside the matrix's rows are left alone.
// constantX: every activation this value instead of random ones.
template <typename Run>
void checkProducts(const RandomMatrix& matrix, int64_t tokens, std::mt19937& rng, Run run,
                   float constantX = 0) {
    const int64_t cols = matrix.cols;
    std::vector<float> weights(size_t(matrix.rows * cols));
    for (int64_t r = 0; r < matrix.rows; ++r)
        gguf::dequantizeRow(uint32_t(matrix.type), matrix.data.data() + r * matrix.rowBytes,
                            weights.data() + r * cols, cols);
    std::normal_distribution<float> normal(0.0f, 2.0f);
    ProductInputs in;
    in.x.resize(size_t(tokens * cols));
    for (auto& v : in.x) v = constantX != 0 ? constantX : normal(rng);
    in.xq.resize(size_t(tokens * cols));
    in.xd.resize(size_t(tokens * cols / 4));
    for (int64_t t = 0; t < tokens; ++t)
        cpu::quantizeActivationsQ8(in.x.data() + t * cols, cols, in.xq.data() + t * cols,
                                   in.xd.data() + t * (cols / 4));
    // Output rows wider than the matrix: gemm must leave the other entries alone.
    const int64_t outStride = matrix.rows + 2;
    std::vector<float> out(size_t(tokens * outStride), -12345.0f);
    run(in, out.data(), outStride);
    for (int64_t t = 0; t < tokens; ++t)
        for (int64_t r = 0; r < outStride; ++r) {
            const float got = out[size_t(t * outStride + r)];
            if (r >= matrix.rows) {
                QCOMPARE(got, -12345.0f);
                continue;
            }
            // float64 of the same 8-bit products, the exact product, and the rounding bound:
            // each activation moved by at most half its block's step d.
            double sameProducts = 0, exact = 0, bound = 0, magnitude = 0;
            for (int64_t i = 0; i < cols; ++i) {
                const double wi = weights[size_t(r * cols + i)];
                const double d = in.xd[size_t(t * (cols / 4) + i / 32 * cpu::kQ8ScalesPerBlock)];
                const double q = double(int(in.xq[size_t(t * cols + i)]) - 128);
                sameProducts += wi * d * q;
                exact += wi * double(in.x[size_t(t * cols + i)]);
                bound += std::abs(wi) * d / 2;
                magnitude += std::abs(wi * d * q);
            }
            const QString where =
                QString("%1 rows, %2 tokens: token %3 row %4").arg(matrix.rows).arg(tokens).arg(t).arg(r);
            QVERIFY2(std::abs(got - sameProducts) <= 1e-5 * magnitude + 1e-6,
                     qPrintable(where + QString(": %1 vs %2").arg(got).arg(sameProducts)));
            QVERIFY2(
                std::abs(got - exact) <= bound * 1.001 + 1e-5 * magnitude,
                qPrintable(where + QString(": %1 vs exact %2 (bound %3)").arg(got).arg(exact).arg(bound)));
        }
}

} // namespace

class TestCpuKernels : public QObject {
    Q_OBJECT

private slots:
    void gemmQ8_data() {
        QTest::addColumn<int>("isa");
        QTest::addColumn<int>("type");
        QTest::addColumn<int>("cols");
        for (cpu::Isa isa : {cpu::Isa::Avx512, cpu::Isa::Avx2, cpu::Isa::Portable})
            for (auto type : {gguf::TensorType::Q4_0, gguf::TensorType::Q8_0})
                for (int cols : {32, 96, 1536})
                    QTest::newRow(qPrintable(QString("%1/%2/%3")
                                                 .arg(cpu::isaName(isa))
                                                 .arg(type == gguf::TensorType::Q4_0 ? "q4_0" : "q8_0")
                                                 .arg(cols)))
                        << int(isa) << int(type) << cols;
    }

    void gemmQ8() {
        QFETCH(int, isa);
        QFETCH(int, type);
        QFETCH(int, cols);
        IsaGuard guard(static_cast<cpu::Isa>(isa));
        if (!guard.ok) QSKIP("this CPU lacks the instruction set");
        const cpu::Kernels& k = cpu::kernels();
        std::mt19937 rng(uint32_t(isa * 131 + type * 17 + cols));
        const auto matrix = randomMatrix(static_cast<gguf::TensorType>(type), 11, cols, rng);
        const auto gemm = matrix.type == gguf::TensorType::Q4_0 ? k.gemmQ4_0Q8 : k.gemmQ8_0Q8;
        for (int64_t tokens : {1, 3, 4, 8, 13, 19}) {
            checkProducts(matrix, tokens, rng, [&](const ProductInputs& in, float* out, int64_t outStride) {
                gemm(matrix.data.data(), matrix.rowBytes, matrix.rows, in.xq.data(), in.xd.data(), tokens,
                     cols, out, outStride);
            });
            if (QTest::currentTestFailed()) return;
        }
    }

    void gemmQ8Packed_data() { gemmQ8_data(); }

    // The batch tiles on the packed activations: row counts below, at and past the 8 unpacked rows
    // (a ragged last row block), token counts below, at and past a 16-token group.
    void gemmQ8Packed() {
        QFETCH(int, isa);
        QFETCH(int, type);
        QFETCH(int, cols);
        IsaGuard guard(static_cast<cpu::Isa>(isa));
        if (!guard.ok) QSKIP("this CPU lacks the instruction set");
        const cpu::Kernels& k = cpu::kernels();
        const auto gemm = type == int(gguf::TensorType::Q4_0) ? k.gemmQ4_0Q8Packed : k.gemmQ8_0Q8Packed;
        if (!gemm) QSKIP("no packed tile on this level");
        std::mt19937 rng(uint32_t(isa * 71 + type * 13 + cols));
        for (int64_t rows : {1, 8, 21})
            for (int64_t tokens : {1, 7, 16, 17, 40}) {
                const auto matrix = randomMatrix(static_cast<gguf::TensorType>(type), rows, cols, rng);
                checkProducts(matrix, tokens, rng,
                              [&](const ProductInputs& in, float* out, int64_t outStride) {
                                  const int64_t groups = cpu::packedGroups(tokens);
                                  std::vector<uint8_t> pq(size_t(groups * cpu::kPackedTokens * cols));
                                  std::vector<cpu::PackedBlock> pb(size_t(groups * cols / 32));
                                  cpu::packActivationsQ8(in.xq.data(), in.xd.data(), tokens, cols, pq.data(),
                                                         pb.data());
                                  gemm(matrix.data.data(), matrix.rowBytes, matrix.rows, pq.data(), pb.data(),
                                       tokens, cols, out, outStride);
                              });
                if (QTest::currentTestFailed()) return;
            }
        // The largest sums: every weight the most negative or the most positive value (Q4_0 nibbles 0 or
        // 15, Q8_0 -128 or 127) times every activation -127 or 127 (where the AVX2 tile's int16 block
        // sums reach +-30480).
        const bool q4 = type == int(gguf::TensorType::Q4_0);
        for (uint8_t byte : {uint8_t(q4 ? 0x00 : 0x80), uint8_t(q4 ? 0xFF : 0x7F)})
            for (float constant : {3.0f, -3.0f}) {
                auto extreme = randomMatrix(static_cast<gguf::TensorType>(type), 9, cols, rng);
                const int64_t blockBytes = q4 ? 18 : 34;
                for (size_t at = 0; at < extreme.data.size(); at += size_t(blockBytes))
                    std::memset(&extreme.data[at + 2], byte, size_t(blockBytes - 2));
                const int64_t tokens = 17;
                checkProducts(
                    extreme, tokens, rng,
                    [&](const ProductInputs& in, float* out, int64_t outStride) {
                        std::vector<uint8_t> pq(
                            size_t(cpu::packedGroups(tokens) * cpu::kPackedTokens * cols));
                        std::vector<cpu::PackedBlock> pb(size_t(cpu::packedGroups(tokens) * cols / 32));
                        cpu::packActivationsQ8(in.xq.data(), in.xd.data(), tokens, cols, pq.data(),
                                               pb.data());
                        gemm(extreme.data.data(), extreme.rowBytes, extreme.rows, pq.data(), pb.data(),
                             tokens, cols, out, outStride);
                    },
                    constant);
                if (QTest::currentTestFailed()) return;
            }
    }

    void matmulsTogether_data() {
        QTest::addColumn<int>("isa");
        QTest::addColumn<int>("threads");
        for (cpu::Isa isa : {cpu::Isa::Avx512, cpu::Isa::Avx2, cpu::Isa::Portable})
            for (int threads : {1, 2, 3})
                QTest::newRow(qPrintable(QString("%1/%2 threads").arg(cpu::isaName(isa)).arg(threads)))
                    << int(isa) << threads;
    }

    // Several products in one parallel region (matmuls: Q/K/V, gate/up, the MoE experts) give the
    // same bits as the kernel run over each whole matrix on its own, for one token (the fused
    // region: shared and separate inputs, Q4_0 and Q8_0, row counts that split chunks mid-matrix) and
    // for several tokens and the exact mode (one product after another), on every level.
    void matmulsTogether() {
        QFETCH(int, isa);
        QFETCH(int, threads);
        IsaGuard guard(static_cast<cpu::Isa>(isa));
        if (!guard.ok) QSKIP("this CPU lacks the instruction set");
        std::mt19937 rng(uint32_t(isa * 7 + threads));
        using gguf::TensorType;
        struct Shape {
            TensorType type;
            int64_t rows, cols;
            int input;
        };
        const Shape shapes[] = {{TensorType::Q4_0, 200, 1536, 0}, {TensorType::Q4_0, 33, 1536, 0},
                                {TensorType::Q8_0, 17, 1536, 0},  {TensorType::Q4_0, 70, 96, 1},
                                {TensorType::Q4_0, 5, 1536, 2},   {TensorType::Q8_0, 40, 96, 1}};
        std::vector<RandomMatrix> matrices;
        std::vector<model::Weight> weights;
        for (const auto& s : shapes) matrices.push_back(randomMatrix(s.type, s.rows, s.cols, rng));
        for (const auto& m : matrices) {
            model::Weight w;
            w.type = uint32_t(m.type);
            w.data = m.data.data();
            w.rows = m.rows;
            w.cols = m.cols;
            w.rowBytes = uint64_t(m.rowBytes);
            weights.push_back(w);
        }
        cpu::ThreadPool pool(threads);
        std::normal_distribution<float> normal(0.0f, 2.0f);
        struct PrecisionGuard {
            ~PrecisionGuard() { cpu::setActivationPrecision(cpu::ActivationPrecision::Exact); }
        } restore;
        for (auto precision : {cpu::ActivationPrecision::Q8, cpu::ActivationPrecision::Exact})
            for (int64_t tokens : {1, 3}) {
                cpu::setActivationPrecision(precision);
                const int64_t inputCols[] = {1536, 96, 1536};
                std::vector<std::vector<float>> inputs;
                for (int64_t cols : inputCols) {
                    std::vector<float> x(size_t(tokens * cols));
                    for (auto& v : x) v = normal(rng);
                    inputs.push_back(std::move(x));
                }
                std::vector<std::vector<float>> together(std::size(shapes)), alone(std::size(shapes));
                std::vector<cpu::MatmulJob> jobs;
                for (size_t i = 0; i < std::size(shapes); ++i) {
                    together[i].assign(size_t(tokens * shapes[i].rows), -1.0f);
                    alone[i].assign(size_t(tokens * shapes[i].rows), -2.0f);
                    jobs.push_back({&weights[i], inputs[size_t(shapes[i].input)].data(), together[i].data()});
                }
                cpu::matmuls(pool, jobs, tokens);
                for (size_t i = 0; i < std::size(shapes); ++i) {
                    const float* x = inputs[size_t(shapes[i].input)].data();
                    if (precision == cpu::ActivationPrecision::Q8) {
                        // The kernel itself over the whole matrix (checked against float64 above).
                        const int64_t cols = shapes[i].cols;
                        std::vector<uint8_t> xq(size_t(tokens * cols));
                        std::vector<float> xd(size_t(tokens * cols / 4));
                        for (int64_t t = 0; t < tokens; ++t)
                            cpu::quantizeActivationsQ8(x + t * cols, cols, xq.data() + t * cols,
                                                       xd.data() + t * (cols / 4));
                        const auto gemm = shapes[i].type == TensorType::Q4_0 ? cpu::kernels().gemmQ4_0Q8
                                                                             : cpu::kernels().gemmQ8_0Q8;
                        for (int64_t t = 0; t < tokens; ++t) // one token at a time: the decode kernels
                            gemm(matrices[i].data.data(), matrices[i].rowBytes, shapes[i].rows,
                                 xq.data() + t * cols, xd.data() + t * (cols / 4), 1, cols,
                                 alone[i].data() + t * shapes[i].rows, shapes[i].rows);
                        if (tokens > 1) // batches use the tiles: compare with matmul() instead
                            cpu::matmul(pool, weights[i], x, tokens, alone[i].data());
                    } else {
                        cpu::matmul(pool, weights[i], x, tokens, alone[i].data());
                    }
                    const QString where = QString("%1 tokens, %2, job %3")
                                              .arg(tokens)
                                              .arg(cpu::activationPrecisionName(precision))
                                              .arg(i);
                    QVERIFY2(std::memcmp(together[i].data(), alone[i].data(), together[i].size() * 4) == 0,
                             qPrintable(where + ": different bits"));
                }
            }
    }

    void geluMul_data() { quantizeActivations_data(); }

    // gelu(x) * u on every level against float64 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) * u
    // over [-12, 12] (both tails, the steep middle) and lengths with every remainder.
    void geluMul() {
        QFETCH(int, isa);
        IsaGuard guard(static_cast<cpu::Isa>(isa));
        if (!guard.ok) QSKIP("this CPU lacks the instruction set");
        std::mt19937 rng(9);
        std::uniform_real_distribution<float> factor(-3.0f, 3.0f);
        for (int n : {1, 7, 16, 37, 4801}) {
            std::vector<float> gate(static_cast<size_t>(n)), up(static_cast<size_t>(n)),
                out(static_cast<size_t>(n));
            for (int i = 0; i < n; ++i) {
                gate[size_t(i)] = n == 1 ? 0.5f : -12.0f + 24.0f * float(i) / float(n - 1);
                up[size_t(i)] = factor(rng);
            }
            cpu::kernels().geluMul(gate.data(), up.data(), out.data(), n);
            for (int i = 0; i < n; ++i) {
                const double x = gate[size_t(i)], u = up[size_t(i)];
                const double expected =
                    0.5 * x * (1.0 + std::tanh(0.7978845608028654 * (x + 0.044715 * x * x * x))) * u;
                QVERIFY2(
                    std::abs(out[size_t(i)] - expected) <= 4e-6 * std::abs(x * u) + 1e-30,
                    qPrintable(
                        QString("gelu(%1) * %2: %3 vs %4").arg(x).arg(u).arg(out[size_t(i)]).arg(expected)));
            }
        }
        // In place, as the forward pass calls it.
        std::vector<float> gate{-1.0f, 0.0f, 2.0f}, up{2.0f, 5.0f, 1.0f};
        cpu::kernels().geluMul(gate.data(), up.data(), gate.data(), 3);
        QVERIFY(std::abs(gate[0] - 2.0 * -0.15880800939172324) < 1e-6);
        QCOMPARE(gate[1], 0.0f);
        QVERIFY(std::abs(gate[2] - 1.9545976940871754) < 1e-6);
    }

    void softcap_data() { quantizeActivations_data(); }

    // cap * tanh(x / cap) on every level against float64, from far below -cap to far above.
    void softcap() {
        QFETCH(int, isa);
        IsaGuard guard(static_cast<cpu::Isa>(isa));
        if (!guard.ok) QSKIP("this CPU lacks the instruction set");
        const float cap = 30.0f;
        for (int n : {1, 5, 16, 2001}) {
            std::vector<float> x(static_cast<size_t>(n));
            for (int i = 0; i < n; ++i)
                x[size_t(i)] = n == 1 ? 0.25f : -400.0f + 800.0f * float(i) / float(n - 1);
            const auto input = x;
            cpu::kernels().softcap(x.data(), n, cap);
            for (int i = 0; i < n; ++i) {
                const double expected = cap * std::tanh(double(input[size_t(i)]) / cap);
                QVERIFY2(std::abs(x[size_t(i)] - expected) <= 2e-6 * cap,
                         qPrintable(QString("softcap(%1): %2 vs %3")
                                        .arg(input[size_t(i)])
                                        .arg(x[size_t(i)])
                                        .arg(expected)));
            }
        }
    }

    void quantizeActivations_data() {
        QTest::addColumn<int>("isa");
        for (cpu::Isa isa : {cpu::Isa::Avx512, cpu::Isa::Avx2, cpu::Isa::Portable})
            QTest::newRow(cpu::isaName(isa)) << int(isa);
    }

    // The activations round to the nearest of 255 levels per block (ties to even, on every level
    // alike), all-zero blocks stay zero.
    void quantizeActivations() {
        QFETCH(int, isa);
        IsaGuard guard(static_cast<cpu::Isa>(isa));
        if (!guard.ok) QSKIP("this CPU lacks the instruction set");
        std::vector<float> x(96, 0.0f);
        for (int i = 0; i < 32; ++i) x[size_t(i)] = float(i - 16) * 0.25f;
        std::mt19937 rng(5);
        std::normal_distribution<float> normal(0.0f, 3.0f);
        for (int i = 64; i < 96; ++i) x[size_t(i)] = normal(rng);
        std::vector<uint8_t> q(96);
        std::vector<float> d(96 / 4);
        cpu::quantizeActivationsQ8(x.data(), 96, q.data(), d.data());
        QCOMPARE(d[0], 4.0f / 127.0f);
        QCOMPARE(int(q[0]) - 128, -127); // -4.0 is the block's largest magnitude
        QCOMPARE(int(q[16]) - 128, 0);
        QCOMPARE(int(q[31]) - 128, int(std::lrint(3.75f * 127.0f / 4.0f)));
        for (int i = 0; i < 8; ++i) QCOMPARE(d[size_t(i)], d[0]);
        QCOMPARE(d[8], 0.0f);
        for (int i = 32; i < 64; ++i) QCOMPARE(int(q[size_t(i)]), 128);
        float amax = 0;
        for (int i = 64; i < 96; ++i) amax = std::max(amax, std::abs(x[size_t(i)]));
        QCOMPARE(d[16], amax / 127.0f);
        for (int i = 64; i < 96; ++i)
            QCOMPARE(int(q[size_t(i)]) - 128, int(std::lrint(x[size_t(i)] * (127.0f / amax))));
    }
};

QTEST_GUILESS_MAIN(TestCpuKernels)
#include "test_cpu_kernels.moc"
