// `ocelle-cli bench`: prefill and decode speed measured the way llama-bench (and
// tools/llama-reference/bench.mjs) measure llama.cpp, so the two can be compared on one file:
//   ppN = one batched prefill of N tokens into an empty cache (logits of the last token only);
//   tgN = N tokens decoded one at a time after a 1-token prompt, each taking the greedy token.
// Each test runs once unmeasured (first-touch of the mapped weights, allocations), then --reps times.
#include "backend_option.h"
#include "command.h"

#include "cpu/cpu_model.h"
#include "cpu/matmul.h"
#include "gguf/gguf.h"
#include "vulkan/vulkan_model.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
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
    Args args(
        argv,
        {"--model", "--backend", "--device", "--pp", "--tg", "--reps", "--threads", "--kv", "--activations"},
        {"--json"});
    if (!args.positionals().empty()) throw UsageError("unexpected argument '" + args.positionals()[0] + "'");
    const std::string path = args.require("--model");
    engine::LoadOptions loadOptions = backendOptions(args);
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
    // The quantized-activation mode by default: llama.cpp quantizes activations too, so this is the
    // like-for-like comparison (and the app's default); --activations exact measures the exact path.
    const std::string activations =
        args.value("--activations").value_or(std::getenv("OCELLE_CPU_ACTIVATIONS") ? "" : "q8");
    if (activations == "q8")
        cpu::setActivationPrecision(cpu::ActivationPrecision::Q8);
    else if (activations == "exact")
        cpu::setActivationPrecision(cpu::ActivationPrecision::Exact);
    else if (!activations.empty())
        throw UsageError("--activations must be q8 or exact");
    const bool json = args.flag("--json");
    if (!std::filesystem::is_regular_file(path)) throw std::runtime_error("no model file at '" + path + "'");
    const engine::BackendChoice choice = announceBackend(loadOptions);
    const bool onVulkan = loadOptions.backend == engine::BackendKind::Vulkan;
    const std::string backend = onVulkan ? "vulkan" : "cpu";
    const int64_t contextLength = std::max<long long>(pp, 1 + tg) + 1;
    const int batch = static_cast<int>(std::max<long long>(pp, 1)); // the whole prompt in one pass

    // The backend's model and session behind three calls, so both are measured the same way.
    std::unique_ptr<cpu::CpuModel> cpuModel;
    std::unique_ptr<cpu::CpuSession> cpuSession;
    std::unique_ptr<vulkan::VulkanModel> vkModel;
    std::unique_ptr<vulkan::VulkanSession> vkSession;
    std::function<void()> reset;
    std::function<std::vector<float>(std::span<const int32_t>)> prefillLast;
    const model::Model* loaded = nullptr;
    if (onVulkan) {
        vkModel = vulkan::VulkanModel::load(path, {.forced = loadOptions.device});
        loaded = &vkModel->model();
    } else {
        cpuModel = cpu::CpuModel::load(path, static_cast<int>(threads));
        loaded = &cpuModel->model();
    }
    const auto& hp = loaded->hparams();
    if (hp.nVocab < 2) throw std::runtime_error(path + ": the vocabulary has fewer than 2 tokens");
    double params = 0;
    for (const auto& tensor : loaded->file().tensors()) params += static_cast<double>(tensor.elements());
    const uint64_t fileBytes = loaded->file().fileSize();
    if (contextLength > hp.contextLength && hp.contextLength > 0)
        throw UsageError("--pp/--tg exceed the model's context of " + std::to_string(hp.contextLength));
    if (onVulkan) {
        vkSession =
            vkModel->createSession({.contextLength = contextLength, .maxBatch = batch, .kvF16 = kv == "f16"});
        reset = [&] { vkSession->reset(); };
        prefillLast = [&](std::span<const int32_t> ids) { return vkSession->prefill(ids); };
    } else {
        cpu::SessionOptions options;
        options.contextLength = contextLength;
        options.maxBatch = batch;
        options.kvType = kv == "f16" ? model::KvType::F16 : model::KvType::F32;
        cpuSession = cpuModel->createSession(options);
        reset = [&] { cpuSession->reset(); };
        prefillLast = [&](std::span<const int32_t> ids) { return cpuSession->prefill(ids); };
    }

    const auto prefill = [&] {
        reset();
        const auto ids = benchIds(static_cast<int>(pp), hp.nVocab);
        const auto start = std::chrono::steady_clock::now();
        prefillLast(ids);
        return static_cast<double>(pp) / secondsSince(start);
    };
    const auto decode = [&] {
        reset();
        const auto first = benchIds(2, hp.nVocab);
        prefillLast(std::span<const int32_t>(first.data(), 1));
        int32_t token = first[1];
        const auto start = std::chrono::steady_clock::now();
        for (long long i = 0; i < tg; ++i) token = greedy(prefillLast(std::span<const int32_t>(&token, 1)));
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
    const std::string device = onVulkan ? choice.device : cpuModelName();
    const int threadCount = onVulkan ? 0 : cpuModel->threads();
    // What the CPU products used (Vulkan: its own kernels, fp32 activations).
    const std::string precision = onVulkan ? "f32" : cpu::activationPrecisionName(cpu::activationPrecision());
    std::string out;
    char buf[512];
    if (json) {
        std::snprintf(
            buf, sizeof buf,
            "{\"engine\": \"ocelle\", \"model\": \"%s\", \"variant\": \"%s\", \"model_bytes\": %llu, "
            "\"params\": %.0f, \"backend\": \"%s\", \"device\": \"%s\", \"threads\": %d, \"kv\": \"%s\", "
            "\"activations\": \"%s\", \"tests\": [",
            jsonEscape(modelName).c_str(), variant.c_str(), static_cast<unsigned long long>(fileBytes),
            params, backend.c_str(), jsonEscape(device).c_str(), threadCount, kv.c_str(), precision.c_str());
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
        out += "| model | variant | size GiB | params | backend | device | threads | activations | test | "
               "t/s |\n";
        out += "|---|---|---:|---:|---|---|---:|---|---|---:|\n";
        for (const auto& t : tests) {
            std::snprintf(buf, sizeof buf, "| %s | %s | %.2f | %s | %s | %s | %d | %s | %s | %.2f ± %.2f |\n",
                          modelName.c_str(), variant.c_str(),
                          static_cast<double>(fileBytes) / (1024.0 * 1024 * 1024),
                          formatCount(params).c_str(), backend.c_str(), device.c_str(), threadCount,
                          precision.c_str(), t.name.c_str(), t.speed.mean, t.speed.sd);
            out += buf;
        }
    }
    std::fwrite(out.data(), 1, out.size(), stdout);
    return 0;
}

} // namespace

OCELLE_CLI_COMMAND(
    bench, "bench", "prefill and decode speed, measured like llama-bench",
    "Usage: ocelle-cli bench --model PATH [--backend auto|cpu|vulkan] [--device X] [--pp 512]\n"
    "                        [--tg 128] [--reps 3] [--threads N] [--kv f16|f32] [--activations q8|exact]\n"
    "                        [--json]\n\n"
    "Measures tokens/s the way llama-bench and tools/llama-reference/bench.mjs measure llama.cpp:\n"
    "  ppN  one batched prefill of N tokens into an empty cache (fixed pseudo-random ids)\n"
    "  tgN  N single-token decodes after a 1-token prompt, each taking the greedy token\n"
    "Each test runs once unmeasured, then --reps times; the table shows mean ± sample sd.\n"
    "  --pp N, --tg N  test sizes (0 skips that test)\n"
    "  --threads N     worker threads (default 0: all cores)\n"
    "  --kv f16|f32    KV cache type (default f16, llama.cpp's default)\n"
    "  --activations q8|exact  CPU products of Q4_0/Q8_0 weights: q8 (default, as llama.cpp: activations\n"
    "                  rounded to 8 bits, integer dot products) or exact (fp32); the output names it.\n"
    "                  (without the option, OCELLE_CPU_ACTIVATIONS decides when set)\n"
    "  --backend auto|cpu|vulkan  default auto: Vulkan on a usable GPU, else the CPU (stderr says which)\n"
    "  --device X      Vulkan device index or name substring (lavapipe only when named)\n"
    "  --json          one JSON object (same shape as bench.mjs --json 1) instead of the table",
    runBench);

} // namespace ocelle::cli
