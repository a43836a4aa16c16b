// A weight tensor larger than the device's largest storage-buffer binding (128 MiB on lavapipe):
// a ~150 MiB Q8_0 matrix (the size class of a Gemma 4 token embedding / LM head) must be split into
// ranges transparently, with matvec (the softcapped logits path, several columns, more than 65535
// rows) and embedding gather matching a double-precision reference. (matmul uses the same chunk
// loop and is tested on forced splits in test_vulkan_kernels: at this size it is too slow for a test
// on lavapipe.)
#include "vulkan_test_support.h"

#include <QtTest>

using namespace ocelle::vulkan;
using namespace ocelle::vulkan::testing;

class TestVulkanLarge : public QObject {
    Q_OBJECT

private slots:
    void tensorBeyondTheBindingLimit() {
        std::string why;
        auto device = openTestDevice(why);
        if (!device) QSKIP(("Vulkan not tested: " + why).c_str());
        const uint32_t seed = testSeed();
        std::mt19937 rng(seed);
        qInfo("seed %u", seed);

        const uint64_t k = 2048;
        const uint64_t bytesPerRow = rowBytes(TensorType::Q8_0, k);
        const uint64_t limit = device->maxBindingBytes();
        // About 150 MiB, or a bit more than the limit on devices whose limit is larger than that.
        const uint64_t target = std::max<uint64_t>(150ull << 20, limit + (8ull << 20));
        if (target > (1ull << 31) || target > device->info().deviceLocalBytes / 2)
            QSKIP("the device's binding limit is too large to exceed within this test's memory budget");
        const uint64_t rows = target / bytesPerRow;

        // Random valid Q8_0 blocks, written directly (fast): small fp16 scale, random int8 quants.
        std::vector<uint8_t> bytes(rows * bytesPerRow);
        std::uniform_int_distribution<int> byte(0, 255);
        std::uniform_real_distribution<float> scale(0.001f, 0.01f);
        for (uint64_t b = 0; b < rows * k / 32; ++b) {
            uint8_t* block = bytes.data() + b * 34;
            const uint16_t d = ocelle::gguf::floatToFp16(scale(rng));
            std::memcpy(block, &d, 2);
            for (int i = 2; i < 34; ++i) block[i] = uint8_t(byte(rng));
        }
        auto weights = WeightTensor::upload(*device, uint32_t(TensorType::Q8_0), rows, k, bytes.data());
        qInfo("%llu rows x %llu = %.1f MiB in %zu bindings (limit %.1f MiB)",
              static_cast<unsigned long long>(rows), static_cast<unsigned long long>(k),
              double(rows * bytesPerRow) / (1 << 20), weights->chunks().size(), double(limit) / (1 << 20));
        QVERIFY(rows * bytesPerRow > device->features().maxStorageBufferRange);
        QVERIFY(weights->chunks().size() >= 2);

        const uint32_t n = 3;
        const auto x = randomFloats(n * k, rng);
        std::vector<double> want(n * rows), tol(n * rows), capped(rows);
        std::vector<float> row(k);
        for (uint64_t r = 0; r < rows; ++r) {
            ocelle::gguf::dequantizeRow(uint32_t(TensorType::Q8_0), bytes.data() + r * bytesPerRow,
                                        row.data(), k);
            for (uint32_t c = 0; c < n; ++c) {
                double s = 0, a = 0;
                for (uint64_t i = 0; i < k; ++i) {
                    const double p = double(row[i]) * x[c * k + i];
                    s += p;
                    a += std::abs(p);
                }
                want[c * rows + r] = s;
                tol[c * rows + r] = a;
            }
            capped[r] = 30.0 * std::tanh(want[r] / 30.0);
        }

        Pipelines pipelines(*device);
        Kernels kernels(pipelines);
        auto bx = uploadVector(*device, x);
        Buffer logits(*device, rows * 4), batch(*device, n * rows * 4);
        const std::vector<uint32_t> ids{0, uint32_t(rows - 1), uint32_t(rows / 2),
                                        uint32_t(weights->chunks()[1].firstRow)};
        auto bids = uploadVector(*device, ids);
        Buffer gathered(*device, ids.size() * k * 4);
        Recorder rec(pipelines);
        rec.begin();
        kernels.matvec(rec, *weights, at(*bx), at(logits), 1, 0, 0, 30.0f); // the LM-head path
        kernels.matvec(rec, *weights, at(*bx), at(batch), n);               // several columns
        kernels.gather(rec, *weights, at(*bids), at(gathered), uint32_t(ids.size()), 0.5f);
        rec.submitAndWait();

        const auto gotLogits = readVector(*device, logits, rows);
        std::vector<double> tol1(tol.begin(), tol.begin() + long(rows));
        long bad = firstMismatch(gotLogits, capped, tol1, 2e-5);
        QVERIFY2(bad < 0, ("matvec " + mismatchText(bad, gotLogits, capped, seed)).c_str());
        const auto gotBatch = readVector(*device, batch, n * rows);
        bad = firstMismatch(gotBatch, want, tol, 2e-5);
        QVERIFY2(bad < 0, ("matvec, 3 columns " + mismatchText(bad, gotBatch, want, seed)).c_str());
        const auto gotRows = readVector(*device, gathered, ids.size() * k);
        for (size_t t = 0; t < ids.size(); ++t) {
            ocelle::gguf::dequantizeRow(uint32_t(TensorType::Q8_0), bytes.data() + ids[t] * bytesPerRow,
                                        row.data(), k);
            for (uint64_t i = 0; i < k; ++i) QCOMPARE(gotRows[t * k + i], row[i] * 0.5f);
        }
        QCOMPARE(device->validationErrors(), uint64_t(0));
    }
};

QTEST_APPLESS_MAIN(TestVulkanLarge)
#include "test_vulkan_large.moc"
