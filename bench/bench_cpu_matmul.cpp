// CPU engine timing: matrix products per weight type (one token = decode, many = prefill) on random
// weights, and optionally a whole model's prefill and decode rate. Prints tables; not a test.
//
//   bench_cpu_matmul [--threads N] [--model PATH] [--prefill N] [--decode N] [--repeat N]
//                    [--no-matmul] [--type T] [--tokens N]
#include "cpu/cpu_model.h"
#include "cpu/kernels.h"
#include "cpu/matmul.h"
#include "gguf/tensor_types.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <random>
#include <string>
#include <vector>

using namespace ocelle;
using Clock = std::chrono::steady_clock;

namespace {

// CPU time of the whole process (all threads): on a loaded machine this shows the work done,
// where wall-clock time also counts the time other processes held the cores.
double processCpuSeconds() {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

double seconds(Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double>(b - a).count();
}

struct TypeInfo {
    const char* name;
    gguf::TensorType type;
    int blockValues;
    int blockBytes;
};

const TypeInfo kTypes[] = {
    {"q4_0", gguf::TensorType::Q4_0, 32, 18},   {"q8_0", gguf::TensorType::Q8_0, 32, 34},
    {"q4_k", gguf::TensorType::Q4_K, 256, 144}, {"q6_k", gguf::TensorType::Q6_K, 256, 210},
    {"f16", gguf::TensorType::F16, 1, 2},       {"bf16", gguf::TensorType::BF16, 1, 2},
};

// Random bytes with every f16 scale made a small finite value (so no NaN/Inf slows anything down).
std::vector<uint8_t> randomWeights(const TypeInfo& t, int64_t rows, int64_t cols, std::mt19937& rng) {
    const int64_t rowBytes = cols / t.blockValues * t.blockBytes;
    std::vector<uint8_t> data(static_cast<size_t>(rows * rowBytes));
    for (auto& b : data) b = static_cast<uint8_t>(rng());
    const uint16_t smallHalf = 0x2000; // ~0.0078
    if (t.type == gguf::TensorType::F16 || t.type == gguf::TensorType::BF16) {
        for (size_t i = 0; i + 1 < data.size(); i += 2)
            data[i + 1] = 0x38 | (data[i + 1] & 0x87); // normal, small
    } else if (t.type == gguf::TensorType::Q4_0 || t.type == gguf::TensorType::Q8_0) {
        for (size_t i = 0; i < data.size(); i += t.blockBytes) std::memcpy(&data[i], &smallHalf, 2);
    } else if (t.type == gguf::TensorType::Q4_K) {
        for (size_t i = 0; i < data.size(); i += t.blockBytes) {
            std::memcpy(&data[i], &smallHalf, 2);
            std::memcpy(&data[i + 2], &smallHalf, 2);
        }
    } else if (t.type == gguf::TensorType::Q6_K) {
        for (size_t i = 0; i < data.size(); i += t.blockBytes) std::memcpy(&data[i + 208], &smallHalf, 2);
    }
    return data;
}

void benchMatmuls(cpu::ThreadPool& pool, int repeat, const std::string& onlyType, int64_t onlyTokens) {
    std::mt19937 rng(7);
    struct Shape {
        int64_t rows, cols;
    };
    // 256 x 1536 fits in L2: compute speed rather than memory speed. The first shape (a tenth of the
    // E2B output head, ~64 MB in Q4_0) is larger than the L3 of most CPUs: memory speed, as in decode.
    const Shape shapes[] = {{73728, 1536}, {6144, 1536}, {1536, 6144}, {2048, 1536}, {256, 1536}};
    std::printf("\nmatmul (%s, %d threads): best of %d\n", cpu::isaName(cpu::kernels().isa), pool.size(),
                repeat);
    std::printf("%-6s %6s %6s %7s %10s %10s %12s %10s %14s\n", "type", "rows", "cols", "tokens", "ms", "GB/s",
                "GFLOP/s", "cpu ms", "GB/cpu-s");
    for (const auto& t : kTypes)
        for (const auto& s : shapes) {
            if (!onlyType.empty() && onlyType != t.name) continue;
            const auto data = randomWeights(t, s.rows, s.cols, rng);
            model::Weight w;
            w.type = static_cast<uint32_t>(t.type);
            w.data = data.data();
            w.rows = s.rows;
            w.cols = s.cols;
            w.rowBytes = static_cast<uint64_t>(s.cols / t.blockValues * t.blockBytes);
            // One token (decode) and 64 (prefill), or only the count --tokens names.
            const std::vector<int64_t> tokenCounts =
                onlyTokens > 0 ? std::vector<int64_t>{onlyTokens} : std::vector<int64_t>{1, 64};
            for (int64_t tokens : tokenCounts) {
                std::vector<float> x(static_cast<size_t>(tokens * s.cols)),
                    out(static_cast<size_t>(tokens * s.rows));
                std::normal_distribution<float> normal;
                for (auto& v : x) v = normal(rng);
                cpu::matmul(pool, w, x.data(), tokens, out.data()); // warm-up
                double best = 1e30, bestCpu = 1e30;
                const int inner = tokens == 1 ? 20 * std::max<int64_t>(1, 4096 / s.rows) : 2;
                for (int r = 0; r < repeat; ++r) {
                    const auto a = Clock::now();
                    const double cpuStart = processCpuSeconds();
                    for (int i = 0; i < inner; ++i) cpu::matmul(pool, w, x.data(), tokens, out.data());
                    best = std::min(best, seconds(a, Clock::now()) / inner);
                    bestCpu = std::min(bestCpu, (processCpuSeconds() - cpuStart) / inner);
                }
                std::printf("%-6s %6lld %6lld %7lld %10.3f %10.2f %12.2f %10.3f %14.2f\n", t.name,
                            (long long)s.rows, (long long)s.cols, (long long)tokens, best * 1e3,
                            double(data.size()) / best / 1e9,
                            2.0 * double(s.rows) * double(s.cols) * double(tokens) / best / 1e9,
                            bestCpu * 1e3, double(data.size()) / bestCpu / 1e9);
            }
        }
}

void benchModel(const std::string& path, int threads, int prefillTokens, int decodeTokens, int repeat) {
    const auto model = cpu::CpuModel::load(path, threads);
    const int vocab = model->hparams().nVocab;
    std::vector<int32_t> ids(static_cast<size_t>(prefillTokens));
    for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int32_t>((i * 7919 + 13) % vocab);
    double bestPrefill = 1e30, bestDecode = 1e30, cpuPrefill = 1e30, cpuDecode = 1e30;
    for (int r = 0; r < repeat; ++r) {
        auto session = model->createSession({.contextLength = prefillTokens + decodeTokens + 1});
        auto a = Clock::now();
        double c = processCpuSeconds();
        auto logits = session->prefill(ids);
        bestPrefill = std::min(bestPrefill, seconds(a, Clock::now()));
        cpuPrefill = std::min(cpuPrefill, processCpuSeconds() - c);
        a = Clock::now();
        c = processCpuSeconds();
        int32_t next = 0;
        for (int i = 0; i < decodeTokens; ++i) {
            next = static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
            logits = session->decode(next);
        }
        bestDecode = std::min(bestDecode, seconds(a, Clock::now()));
        cpuDecode = std::min(cpuDecode, processCpuSeconds() - c);
    }
    std::printf("\nmodel %s (%s, %d threads): best of %d\n", path.c_str(), cpu::isaName(cpu::kernels().isa),
                model->threads(), repeat);
    // tok/cpu-s: tokens per second of CPU time summed over threads (load-independent work measure).
    std::printf("%-8s %7s %10s %10s %10s %12s\n", "phase", "tokens", "s", "tok/s", "cpu s", "tok/cpu-s");
    std::printf("%-8s %7d %10.3f %10.2f %10.3f %12.2f\n", "prefill", prefillTokens, bestPrefill,
                prefillTokens / bestPrefill, cpuPrefill, prefillTokens / cpuPrefill);
    std::printf("%-8s %7d %10.3f %10.2f %10.3f %12.2f\n", "decode", decodeTokens, bestDecode,
                decodeTokens / bestDecode, cpuDecode, decodeTokens / cpuDecode);
}

// The model's own matrices by kind, one token each, every layer's matrix in turn (so they come from
// memory as in decode, not from cache): how fast each shape streams inside the model's layout.
void benchModelMatrices(const std::string& path, int threads, int repeat) {
    const auto model = model::Model::load(path);
    const auto& plan = model->plan();
    cpu::ThreadPool pool(threads);
    struct Kind {
        const char* name;
        const model::Weight* (*get)(const model::LayerPlan&);
    };
    const Kind kinds[] = {
        {"attn_q", [](const model::LayerPlan& l) { return &l.attention.q; }},
        {"attn_k", [](const model::LayerPlan& l) { return l.attention.ownsKv ? &l.attention.k : nullptr; }},
        {"attn_output", [](const model::LayerPlan& l) { return &l.attention.output; }},
        {"ffn_gate", [](const model::LayerPlan& l) { return &l.ffn.gate; }},
        {"ffn_down", [](const model::LayerPlan& l) { return &l.ffn.down; }},
        {"inp_gate",
         [](const model::LayerPlan& l) { return l.perLayerInput ? &l.perLayerInput->inputGate : nullptr; }},
        {"proj",
         [](const model::LayerPlan& l) { return l.perLayerInput ? &l.perLayerInput->projection : nullptr; }},
    };
    int64_t widest = 0, tallest = 0;
    for (const auto& l : plan.layers)
        for (const auto& k : kinds)
            if (const auto* w = k.get(l); w && *w) {
                widest = std::max(widest, w->cols);
                tallest = std::max(tallest, w->rows);
            }
    std::vector<float> x(static_cast<size_t>(widest), 0.5f), out(static_cast<size_t>(tallest));
    std::printf("\nmodel matrices %s (%s, %d threads, %s activations): best of %d\n", path.c_str(),
                cpu::isaName(cpu::kernels().isa), pool.size(),
                cpu::activationPrecisionName(cpu::activationPrecision()), repeat);
    std::printf("%-12s %6s %10s %10s %14s\n", "matrix", "calls", "us/call", "GB/s", "GB/cpu-s");
    for (const auto& k : kinds) {
        double best = 1e30, bestCpu = 1e30, bytes = 0;
        int calls = 0;
        for (int r = 0; r <= repeat; ++r) { // the first pass maps the pages in: not counted
            bytes = 0;
            calls = 0;
            const auto a = Clock::now();
            const double cpuStart = processCpuSeconds();
            for (const auto& l : plan.layers)
                if (const auto* w = k.get(l); w && *w) {
                    cpu::matmul(pool, *w, x.data(), 1, out.data());
                    bytes += double(w->rows) * double(w->rowBytes);
                    ++calls;
                }
            if (r == 0) continue;
            best = std::min(best, seconds(a, Clock::now()));
            bestCpu = std::min(bestCpu, processCpuSeconds() - cpuStart);
        }
        if (calls == 0) continue;
        std::printf("%-12s %6d %10.1f %10.2f %14.2f\n", k.name, calls, best / calls * 1e6, bytes / best / 1e9,
                    bytes / bestCpu / 1e9);
    }
}

} // namespace

int main(int argc, char** argv) {
    int threads = 0, prefill = 64, decode = 16, repeat = 3;
    bool matmuls = true, modelMatrices = false;
    std::string modelPath, onlyType;
    int64_t onlyTokens = 0;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "%s needs a value\n", arg.c_str());
                std::exit(2);
            }
            return argv[++i];
        };
        if (arg == "--threads")
            threads = std::atoi(value().c_str());
        else if (arg == "--model")
            modelPath = value();
        else if (arg == "--prefill")
            prefill = std::atoi(value().c_str());
        else if (arg == "--decode")
            decode = std::atoi(value().c_str());
        else if (arg == "--repeat")
            repeat = std::max(1, std::atoi(value().c_str()));
        else if (arg == "--no-matmul")
            matmuls = false;
        else if (arg == "--model-matrices")
            modelMatrices = true;
        else if (arg == "--type")
            onlyType = value();
        else if (arg == "--tokens")
            onlyTokens = std::atoll(value().c_str());
        else {
            std::fprintf(stderr,
                         "usage: bench_cpu_matmul [--threads N] [--model PATH] [--prefill N] [--decode N] "
                         "[--repeat N] [--no-matmul] [--model-matrices] [--type "
                         "q4_0|q8_0|q4_k|q6_k|f16|bf16] [--tokens N]\n");
            return 2;
        }
    }
    if (matmuls) {
        cpu::ThreadPool pool(threads);
        benchMatmuls(pool, repeat, onlyType, onlyTokens);
    }
    if (!modelPath.empty() && modelMatrices)
        benchModelMatrices(modelPath, threads, repeat);
    else if (!modelPath.empty())
        benchModel(modelPath, threads, prefill, decode, repeat);
    return 0;
}
