// `ocelle-cli bench`: prefill and decode speed measured the way llama-bench (and
// tools/llama-reference/bench.mjs) measure llama.cpp, so the two can be compared on one file:
//   ppN = one batched prefill of N tokens into an empty cache (logits of the last token only);
//   tgN = N tokens decoded one at a time after a 1-token prompt, each taking the greedy token.
// Each test runs once unmeasured (first-touch of the mapped weights, allocations), then --reps times.
#include "command.h"

#include "cpu/cpu_model.h"
#include "gguf/gguf.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <span>
#include <string>
#include <vector>

namespace ocelle::cli {
namespace {

// The same deterministic ids bench.mjs feeds llama.cpp (an LCG, ids from 1000 up), so both engines
// see identical prompts.
std::vector<int32_t> benchIds(int count, int nVocab) {
    const int low = std::min(1000, nVocab - 1);
    uint32_t state = 12345;
    std::vector<int32_t> ids;
    ids.reserve(static_cast<size_t>(count));
    for (int i = 0; i < count; ++i) {
        state = state * 1103515245u + 12345u;
        ids.push_back(
            static_cast<int32_t>(low + static_cast<int>(state % static_cast<uint32_t>(nVocab - low))));
    }
    return ids;
}

struct Summary {
    double mean = 0;
    double sd = 0; // sample standard deviation, 0 for a single sample
    std::vector<double> samples;
};

Summary summarize(std::vector<double> samples) {
    Summary s;
    for (double v : samples) s.mean += v;
    s.mean /= static_cast<double>(samples.size());
    if (samples.size() > 1) {
        double sq = 0;
        for (double v : samples) sq += (v - s.mean) * (v - s.mean);
        s.sd = std::sqrt(sq / static_cast<double>(samples.size() - 1));
    }
    s.samples = std::move(samples);
    return s;
}

std::string cpuModelName() {
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("model name", 0) != 0) continue;
        const auto colon = line.find(':');
        if (colon == std::string::npos) break;
        auto name = line.substr(colon + 1);
        name.erase(0, name.find_first_not_of(" \t"));
        return name;
    }
    return "cpu";
}

std::string jsonEscape(const std::string& text) {
    std::string out;
    for (char c : text) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (static_cast<unsigned char>(c) < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out += buf;
        } else {
            out += c;
        }
    }
    return out;
}

std::string formatCount(double n) {
    char buf[32];
    if (n >= 1e9)
        std::snprintf(buf, sizeof buf, "%.2f B", n / 1e9);
    else
        std::snprintf(buf, sizeof buf, "%.2f M", n / 1e6);
    return buf;
}

int32_t greedy(const std::vector<float>& logits) {
    return static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
}

double secondsSince(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

int runBench(const std::vector<std::string>& argv) {
    Args args(argv, {"--model", "--backend", "--pp", "--tg", "--reps", "--threads", "--kv"}, {"--json"});
    if (!args.positionals().empty()) throw UsageError("unexpected argument '" + args.positionals()[0] + "'");
    const std::string path = args.require("--model");
    const std::string backend = args.value("--backend").value_or("cpu");
    if (backend != "cpu" && backend != "vulkan") throw UsageError("--backend must be cpu or vulkan");
    const long long pp = args.integer("--pp", 512);
    const long long tg = args.integer("--tg", 128);
    const long long reps = args.integer("--reps", 3);
    const long long threads = args.integer("--threads", 0);
    if (pp < 0 || tg < 0 || (pp == 0 && tg == 0))
        throw UsageError("--pp and --tg must be >= 0 and not both 0");
    if (pp > 1'000'000 || tg > 1'000'000) throw UsageError("--pp and --tg must be at most 1000000");
    if (reps < 1 || reps > 1000) throw UsageError("--reps must be between 1 and 1000");
    if (threads < 0) throw UsageError("--threads must not be negative (0: all cores)");
    const std::string kv = args.value("--kv").value_or("f16");
    if (kv != "f32" && kv != "f16") throw UsageError("--kv must be f32 or f16");
    const bool json = args.flag("--json");

    if (backend == "vulkan") {
        // The Vulkan kernels exist (see `ocelle-cli devices`), but no backend runs a whole model
        // on them yet, so there is nothing to measure.
        std::fprintf(stderr,
                     "ocelle-cli bench: the Vulkan backend is not available: Ocelle cannot run a whole "
                     "model on Vulkan yet (use --backend cpu)\n");
        return 1;
    }
    if (!std::filesystem::is_regular_file(path)) throw std::runtime_error("no model file at '" + path + "'");

    const auto model = cpu::CpuModel::load(path, static_cast<int>(threads));
    const auto& hp = model->hparams();
    if (hp.nVocab < 2) throw std::runtime_error(path + ": the vocabulary has fewer than 2 tokens");
    double params = 0;
    for (const auto& tensor : model->model().file().tensors())
        params += static_cast<double>(tensor.elements());
    const uint64_t fileBytes = model->model().file().fileSize();

    cpu::SessionOptions options;
    options.contextLength = std::max<long long>(pp, 1 + tg) + 1;
    options.maxBatch = static_cast<int>(std::max<long long>(pp, 1)); // the whole prompt in one pass
    options.kvType = kv == "f16" ? model::KvType::F16 : model::KvType::F32;
    if (options.contextLength > hp.contextLength && hp.contextLength > 0)
        throw UsageError("--pp/--tg exceed the model's context of " + std::to_string(hp.contextLength));
    auto session = model->createSession(options);

    const auto prefill = [&] {
        session->reset();
        const auto ids = benchIds(static_cast<int>(pp), hp.nVocab);
        const auto start = std::chrono::steady_clock::now();
        session->prefill(ids, cpu::LogitsFor::Last);
        return static_cast<double>(pp) / secondsSince(start);
    };
    const auto decode = [&] {
        session->reset();
        const auto first = benchIds(2, hp.nVocab);
        session->prefill(std::span<const int32_t>(first.data(), 1), cpu::LogitsFor::Last);
        int32_t token = first[1];
        const auto start = std::chrono::steady_clock::now();
        for (long long i = 0; i < tg; ++i) token = greedy(session->decode(token));
        return static_cast<double>(tg) / secondsSince(start);
    };

    struct Test {
        std::string name;
        Summary speed;
    };
    std::vector<Test> tests;
    const auto measure = [&](const char* prefix, long long count, const auto& run) {
        if (count == 0) return;
        run(); // warm-up
        std::vector<double> speeds;
        for (long long r = 0; r < reps; ++r) speeds.push_back(run());
        tests.push_back({std::string(prefix) + std::to_string(count), summarize(std::move(speeds))});
    };
    measure("pp", pp, prefill);
    measure("tg", tg, decode);

    const std::string modelName = std::filesystem::path(path).filename().string();
    const std::string variant = model::variantName(hp.variant);
    const std::string device = cpuModelName();
    const int threadCount = model->threads();
    std::string out;
    char buf[512];
    if (json) {
        std::snprintf(
            buf, sizeof buf,
            "{\"engine\": \"ocelle\", \"model\": \"%s\", \"variant\": \"%s\", \"model_bytes\": %llu, "
            "\"params\": %.0f, \"backend\": \"%s\", \"device\": \"%s\", \"threads\": %d, \"kv\": \"%s\", "
            "\"tests\": [",
            jsonEscape(modelName).c_str(), variant.c_str(), static_cast<unsigned long long>(fileBytes),
            params, backend.c_str(), jsonEscape(device).c_str(), threadCount, kv.c_str());
        out += buf;
        for (size_t i = 0; i < tests.size(); ++i) {
            const auto& s = tests[i].speed;
            std::snprintf(buf, sizeof buf,
                          "%s{\"test\": \"%s\", \"tokens_per_second\": {\"mean\": %.4f, \"sd\": %.4f, "
                          "\"samples\": [",
                          i ? ", " : "", tests[i].name.c_str(), s.mean, s.sd);
            out += buf;
            for (size_t k = 0; k < s.samples.size(); ++k) {
                std::snprintf(buf, sizeof buf, "%s%.4f", k ? ", " : "", s.samples[k]);
                out += buf;
            }
            out += "]}}";
        }
        out += "]}\n";
    } else {
        out += "| model | variant | size GiB | params | backend | device | threads | test | t/s |\n";
        out += "|---|---|---:|---:|---|---|---:|---|---:|\n";
        for (const auto& t : tests) {
            std::snprintf(buf, sizeof buf, "| %s | %s | %.2f | %s | %s | %s | %d | %s | %.2f ± %.2f |\n",
                          modelName.c_str(), variant.c_str(),
                          static_cast<double>(fileBytes) / (1024.0 * 1024 * 1024),
                          formatCount(params).c_str(), backend.c_str(), device.c_str(), threadCount,
                          t.name.c_str(), t.speed.mean, t.speed.sd);
            out += buf;
        }
    }
    std::fwrite(out.data(), 1, out.size(), stdout);
    return 0;
}

} // namespace

OCELLE_CLI_COMMAND(
    bench, "bench", "prefill and decode speed, measured like llama-bench",
    "Usage: ocelle-cli bench --model PATH [--backend cpu|vulkan] [--pp 512] [--tg 128] [--reps 3]\n"
    "                        [--threads N] [--kv f16|f32] [--json]\n\n"
    "Measures tokens/s the way llama-bench and tools/llama-reference/bench.mjs measure llama.cpp:\n"
    "  ppN  one batched prefill of N tokens into an empty cache (fixed pseudo-random ids)\n"
    "  tgN  N single-token decodes after a 1-token prompt, each taking the greedy token\n"
    "Each test runs once unmeasured, then --reps times; the table shows mean ± sample sd.\n"
    "  --pp N, --tg N  test sizes (0 skips that test)\n"
    "  --threads N     worker threads (default 0: all cores)\n"
    "  --kv f16|f32    KV cache type (default f16, llama.cpp's default)\n"
    "  --json          one JSON object (same shape as bench.mjs --json 1) instead of the table\n"
    "--backend vulkan exits with status 1 while no Vulkan backend can run a whole model.",
    runBench);

} // namespace ocelle::cli
