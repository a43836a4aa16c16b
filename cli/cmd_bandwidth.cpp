// `ocelle-cli bandwidth`: the machine's streaming-read bandwidth, and with --model the bytes a
// decoded token reads and the decode speed that bandwidth allows. Decode of a quantized model is
// bound by reading its weights once per token, so this is the ceiling `ocelle-cli bench` tgN is
// judged against.
#include "command.h"

#include "model/layer_plan.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace ocelle::cli {
namespace {

// Sums 64-bit words with independent accumulators so the loop is load-bound, not add-bound
// (the compiler vectorises it).
uint64_t sumWords(const uint64_t* words, size_t count) {
    uint64_t a = 0, b = 0, c = 0, d = 0, e = 0, f = 0, g = 0, h = 0;
    size_t i = 0;
    for (; i + 8 <= count; i += 8) {
        a += words[i];
        b += words[i + 1];
        c += words[i + 2];
        d += words[i + 3];
        e += words[i + 4];
        f += words[i + 5];
        g += words[i + 6];
        h += words[i + 7];
    }
    for (; i < count; ++i) a += words[i];
    return a + b + c + d + e + f + g + h;
}

double threadCpuSeconds() {
    timespec t{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

struct ReadRun {
    double gbPerSecond = 0;
    // CPU time the readers got / (wall time x threads): well below 1 means other processes took the
    // cores, and the figure measures the machine's load more than its memory.
    double cpuShare = 0;
};

// One timed run: `threads` threads each read their slice of the buffer `passes` times. Threads are
// started before the clock and released together, so thread creation is not timed.
ReadRun readRun(const std::vector<uint64_t>& buffer, int threads, int passes) {
    std::atomic<bool> go{false};
    std::atomic<long long> cpuNanoseconds{0};
    std::atomic<int> ready{0};
    std::atomic<uint64_t> sink{0};
    const size_t slice = buffer.size() / static_cast<size_t>(threads);
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
        workers.emplace_back([&, t] {
            const uint64_t* start = buffer.data() + static_cast<size_t>(t) * slice;
            const size_t count = t == threads - 1 ? buffer.size() - static_cast<size_t>(t) * slice : slice;
            ready.fetch_add(1);
            while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
            const double cpuStart = threadCpuSeconds();
            uint64_t total = 0;
            for (int p = 0; p < passes; ++p) total += sumWords(start, count);
            cpuNanoseconds.fetch_add(static_cast<long long>((threadCpuSeconds() - cpuStart) * 1e9));
            sink.fetch_add(total, std::memory_order_relaxed); // keeps the reads observable
        });
    }
    while (ready.load() < threads) std::this_thread::yield();
    const auto begin = std::chrono::steady_clock::now();
    go.store(true, std::memory_order_release);
    for (auto& w : workers) w.join();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
    if (sink.load() == 1) std::fputs("", stderr); // never true in practice; defeats dead-code elimination
    return {static_cast<double>(buffer.size() * sizeof(uint64_t)) * passes / seconds / 1e9,
            static_cast<double>(cpuNanoseconds.load()) * 1e-9 / (seconds * threads)};
}

uint64_t weightBytes(const model::Weight& w) {
    return w ? static_cast<uint64_t>(w.rows) * w.rowBytes : 0;
}

uint64_t vectorBytes(const std::vector<float>& v) {
    return v.size() * sizeof(float);
}

// Bytes of weights one decoded token reads: every layer's matrices and norms (shared-KV layers have
// no K/V), for MoE the router and, on average, nUsed of nExpert experts; one row of the token
// embedding and of the per-layer embedding table, the per-layer projection, and the whole token
// embedding again as the tied output head. The KV cache read grows with the context and is left out.
struct TokenTraffic {
    uint64_t layers = 0;
    uint64_t embeddingRows = 0;
    uint64_t outputHead = 0;
    uint64_t total() const { return layers + embeddingRows + outputHead; }
};

TokenTraffic bytesPerToken(const model::ModelPlan& plan) {
    TokenTraffic traffic;
    for (const auto& layer : plan.layers) {
        const auto& a = layer.attention;
        uint64_t bytes = weightBytes(a.q) + weightBytes(a.k) + weightBytes(a.v) + weightBytes(a.output);
        bytes += vectorBytes(a.qNorm) + vectorBytes(a.kNorm) + vectorBytes(layer.attnNorm) +
                 vectorBytes(layer.postAttentionNorm) + vectorBytes(layer.ffnNorm) +
                 vectorBytes(layer.postFfwNorm);
        bytes += weightBytes(layer.ffn.gate) + weightBytes(layer.ffn.up) + weightBytes(layer.ffn.down);
        if (layer.moe) {
            const auto& m = *layer.moe;
            bytes += weightBytes(m.router) + vectorBytes(m.routerScale);
            const uint64_t experts =
                weightBytes(m.gateUp) + weightBytes(m.gate) + weightBytes(m.up) + weightBytes(m.down);
            if (m.nExpert > 0)
                bytes += experts * static_cast<uint64_t>(m.nUsed) / static_cast<uint64_t>(m.nExpert);
        }
        if (layer.perLayerInput)
            bytes +=
                weightBytes(layer.perLayerInput->inputGate) + weightBytes(layer.perLayerInput->projection);
        traffic.layers += bytes;
    }
    traffic.layers += weightBytes(plan.perLayerModelProjection) + vectorBytes(plan.outputNorm);
    traffic.embeddingRows = plan.tokenEmbedding.rowBytes + plan.perLayerTokenEmbedding.rowBytes;
    traffic.outputHead = weightBytes(plan.tokenEmbedding);
    return traffic;
}

int runBandwidth(const std::vector<std::string>& argv) {
    Args args(argv, {"--threads", "--size-mib", "--runs", "--model"}, {"--json"});
    if (!args.positionals().empty()) throw UsageError("unexpected argument '" + args.positionals()[0] + "'");
    const long long hardware = std::max(1u, std::thread::hardware_concurrency());
    const long long threads = args.integer("--threads", hardware);
    if (threads < 1 || threads > 1024) throw UsageError("--threads must be between 1 and 1024");
    const long long sizeMiB = args.integer("--size-mib", 1024);
    if (sizeMiB < 16 || sizeMiB > 65536) throw UsageError("--size-mib must be between 16 and 65536");
    const long long runs = args.integer("--runs", 5);
    if (runs < 1 || runs > 100) throw UsageError("--runs must be between 1 and 100");
    const bool json = args.flag("--json");
    const auto modelPath = args.value("--model");

    // Load the model first: a bad path fails before the slow measurement.
    std::unique_ptr<model::Model> model;
    if (modelPath) {
        if (!std::filesystem::is_regular_file(*modelPath))
            throw std::runtime_error("no model file at '" + *modelPath + "'");
        model = model::Model::load(*modelPath);
    }

    // Filled with non-zero data so every page is really backed (no shared zero page).
    std::vector<uint64_t> buffer(static_cast<size_t>(sizeMiB) * 1024 * 1024 / sizeof(uint64_t));
    for (size_t i = 0; i < buffer.size(); ++i) buffer[i] = i * 0x9E3779B97F4A7C15ull;

    // One thread, then the requested count: the single-thread figure shows how much one core can pull.
    std::vector<int> counts{1};
    if (threads > 1) counts.push_back(static_cast<int>(threads));
    struct Row {
        int threads;
        double best;
        double mean;
        double cpuShare; // of the best run
    };
    std::vector<Row> rows;
    for (int count : counts) {
        readRun(buffer, count, 1); // warm-up
        ReadRun best;
        double sum = 0;
        for (long long r = 0; r < runs; ++r) {
            const ReadRun run = readRun(buffer, count, 3);
            if (run.gbPerSecond > best.gbPerSecond) best = run;
            sum += run.gbPerSecond;
        }
        rows.push_back({count, best.gbPerSecond, sum / static_cast<double>(runs), best.cpuShare});
    }
    const double bandwidth = rows.back().best; // GB/s with the requested threads

    std::string out;
    char buf[512];
    TokenTraffic traffic;
    if (model) traffic = bytesPerToken(model->plan());
    const double ceiling = model ? bandwidth * 1e9 / static_cast<double>(traffic.total()) : 0;
    if (json) {
        out += "{\"buffer_mib\": " + std::to_string(sizeMiB) + ", \"runs\": " + std::to_string(runs) +
               ", \"read\": [";
        for (size_t i = 0; i < rows.size(); ++i) {
            std::snprintf(
                buf, sizeof buf,
                "%s{\"threads\": %d, \"best_gb_per_s\": %.3f, \"mean_gb_per_s\": %.3f, \"cpu_share\": %.3f}",
                i ? ", " : "", rows[i].threads, rows[i].best, rows[i].mean, rows[i].cpuShare);
            out += buf;
        }
        out += "]";
        if (model) {
            std::snprintf(buf, sizeof buf,
                          ", \"model\": \"%s\", \"bytes_per_token\": %llu, \"layer_bytes\": %llu, "
                          "\"embedding_row_bytes\": %llu, \"output_head_bytes\": %llu, \"threads\": %d, "
                          "\"ceiling_tokens_per_second\": %.3f",
                          std::filesystem::path(*modelPath).filename().string().c_str(),
                          static_cast<unsigned long long>(traffic.total()),
                          static_cast<unsigned long long>(traffic.layers),
                          static_cast<unsigned long long>(traffic.embeddingRows),
                          static_cast<unsigned long long>(traffic.outputHead), rows.back().threads, ceiling);
            out += buf;
        }
        out += "}\n";
    } else {
        out += "| threads | buffer MiB | read GB/s (best) | read GB/s (mean) | CPU share (best run) |\n"
               "|---:|---:|---:|---:|---:|\n";
        for (const auto& r : rows) {
            std::snprintf(buf, sizeof buf, "| %d | %lld | %.2f | %.2f | %.0f%% |\n", r.threads, sizeMiB,
                          r.best, r.mean, 100 * r.cpuShare);
            out += buf;
        }
        if (model) {
            std::snprintf(
                buf, sizeof buf,
                "\n| model | bytes/token MB | layers MB | output head MB | threads | ceiling t/s |\n"
                "|---|---:|---:|---:|---:|---:|\n| %s | %.1f | %.1f | %.1f | %d | %.2f |\n",
                std::filesystem::path(*modelPath).filename().string().c_str(), traffic.total() / 1e6,
                traffic.layers / 1e6, traffic.outputHead / 1e6, rows.back().threads, ceiling);
            out += buf;
        }
    }
    std::fwrite(out.data(), 1, out.size(), stdout);
    return 0;
}

} // namespace

OCELLE_CLI_COMMAND(
    bandwidth, "bandwidth", "streaming-read bandwidth, and a model's decode ceiling from it",
    "Usage: ocelle-cli bandwidth [--threads N] [--size-mib 1024] [--runs 5] [--model PATH] [--json]\n\n"
    "Reads a buffer (default 1 GiB) with 1 thread and with N threads (default: all cores),\n"
    "3 passes per run, and prints the best and mean GB/s (1 GB = 1e9 bytes) over --runs runs, and\n"
    "the share of the wall time the readers were on a CPU (low: a busy machine, not slow memory).\n"
    "With --model: the weight bytes one decoded token reads (all layer matrices and norms,\n"
    "for MoE the router and nUsed/nExpert of the experts, one token- and per-layer-embedding\n"
    "row, and the whole tied token embedding as output head; the KV cache is left out) and\n"
    "the decode speed the N-thread bandwidth allows: bandwidth / bytes per token.",
    runBandwidth);

} // namespace ocelle::cli
