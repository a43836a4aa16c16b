// bench_gguf [MODEL.gguf...]: how fast dequantizeRow decodes each weight format (one 4096-wide
// row, the shape the CPU engine decodes on the fly) and how long opening GGUF files takes.
#include "gguf/dequant.h"
#include "gguf/gguf.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <functional>
#include <random>
#include <string>
#include <vector>

using namespace ocelle::gguf;

namespace {

double cpuSeconds() {
    timespec t{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

double wallSeconds() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Best of several runs of CPU time (the machine may be shared, so the minimum is the honest number).
double bestCpuSeconds(int repeats, const std::function<void()>& work) {
    double best = 1e300;
    for (int i = 0; i < repeats; ++i) {
        const double start = cpuSeconds();
        work();
        best = std::min(best, cpuSeconds() - start);
    }
    return best;
}

} // namespace

int main(int argc, char** argv) {
    constexpr int64_t kRow = 4096;
    constexpr int kRowsPerRun = 2000;
    std::mt19937 rng(42);
    std::normal_distribution<float> normal(0.0f, 0.05f);
    std::vector<float> weights(kRow);
    for (float& w : weights) w = normal(rng);
    std::vector<float> out(kRow);

    std::printf("%-6s %12s %14s\n", "type", "ns / row", "Gweights / s");
    for (TensorType type : {TensorType::F32, TensorType::F16, TensorType::BF16, TensorType::Q8_0,
                            TensorType::Q4_0, TensorType::Q4_K, TensorType::Q5_K, TensorType::Q6_K}) {
        const auto traits = *typeTraits(static_cast<uint32_t>(type));
        std::vector<uint8_t> row(kRow / traits.blockElements * traits.blockBytes);
        if (canQuantize(static_cast<uint32_t>(type))) {
            quantizeRow(static_cast<uint32_t>(type), weights.data(), row.data(), kRow);
        } else {
            // K-quant blocks: random codes with plausible fp16 scales (d, dmin about 1e-3).
            for (auto& b : row) b = static_cast<uint8_t>(rng());
            for (size_t block = 0; block < row.size(); block += traits.blockBytes) {
                const uint16_t scale = floatToFp16(1e-3f);
                const size_t at = type == TensorType::Q6_K ? block + traits.blockBytes - 2 : block;
                std::memcpy(row.data() + at, &scale, 2);
                if (type != TensorType::Q6_K) std::memcpy(row.data() + block + 2, &scale, 2);
            }
        }
        const double seconds = bestCpuSeconds(5, [&] {
            for (int r = 0; r < kRowsPerRun; ++r) {
                dequantizeRow(static_cast<uint32_t>(type), row.data(), out.data(), kRow);
                asm volatile("" : : "r"(out.data()) : "memory"); // keep the result alive
            }
        });
        std::printf("%-6s %12.0f %14.2f\n", traits.name, seconds / kRowsPerRun * 1e9,
                    static_cast<double>(kRow) * kRowsPerRun / seconds / 1e9);
    }

    std::vector<std::string> files(argv + 1, argv + argc);
    if (files.empty())
        files = {OCELLE_FIXTURES_DIR "/tokenizer/ggml-vocab-gemma-4.gguf",
                 OCELLE_FIXTURES_DIR "/models/tiny-gemma4-e.gguf"};
    std::printf("\n%-50s %10s %8s %8s\n", "file", "open ms", "keys", "tensors");
    for (const std::string& path : files) {
        try {
            double best = 1e300;
            size_t keys = 0, tensors = 0;
            for (int i = 0; i < 5; ++i) {
                const double start = wallSeconds();
                auto f = File::open(path);
                best = std::min(best, wallSeconds() - start);
                keys = f->metadata().size();
                tensors = f->tensors().size();
            }
            const std::string name = path.size() > 50 ? "..." + path.substr(path.size() - 47) : path;
            std::printf("%-50s %10.2f %8zu %8zu\n", name.c_str(), best * 1e3, keys, tensors);
        } catch (const Error& e) {
            std::printf("%s\n", e.what());
        }
    }
    return 0;
}
