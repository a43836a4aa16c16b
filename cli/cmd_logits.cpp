// `ocelle-cli logits`: the top logits at every position of a token sequence, as one JSON object
// (the same shape the llama.cpp reference script prints, so the two can be compared directly).
#include "backend_option.h"
#include "command.h"

#include "cpu/cpu_model.h"
#include "vulkan/vulkan_model.h"

#include <algorithm>
#include <cstdio>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

namespace ocelle::cli {
namespace {

std::vector<int32_t> parseIds(const std::string& text) {
    std::vector<int32_t> ids;
    std::istringstream in(text);
    std::string word;
    while (in >> word) {
        char* end = nullptr;
        const long long v = std::strtoll(word.c_str(), &end, 10);
        if (*end != '\0' || v < 0 || v > INT32_MAX)
            throw UsageError("--ids: '" + word + "' is not a token id");
        ids.push_back(static_cast<int32_t>(v));
    }
    if (ids.empty()) throw UsageError("--ids needs at least one token id");
    return ids;
}

int runLogits(const std::vector<std::string>& argv) {
    Args args(argv, {"--model", "--ids", "--backend", "--device", "--top", "--threads", "--kv"}, {});
    if (!args.positionals().empty()) throw UsageError("unexpected argument '" + args.positionals()[0] + "'");
    const std::string path = args.require("--model");
    const auto ids = parseIds(args.require("--ids"));
    engine::LoadOptions loadOptions = backendOptions(args);
    const long long top = args.integer("--top", 10);
    if (top < 1) throw UsageError("--top must be at least 1");
    const long long threads = args.integer("--threads", 0);
    if (threads < 0) throw UsageError("--threads must not be negative (0: all cores)");
    const std::string kv = args.value("--kv").value_or("f32");
    if (kv != "f32" && kv != "f16") throw UsageError("--kv must be f32 or f16");

    announceBackend(loadOptions);
    std::vector<float> logits;
    int vocab = 0;
    if (loadOptions.backend == engine::BackendKind::Vulkan) {
        const auto model = vulkan::VulkanModel::load(path, {.forced = loadOptions.device});
        auto session = model->createSession({.contextLength = static_cast<int64_t>(ids.size()),
                                             .maxBatch = std::max<int>(1, static_cast<int>(ids.size())),
                                             .kvF16 = kv == "f16"});
        logits = session->prefill(ids, vulkan::VulkanLogits::All);
        vocab = model->hparams().nVocab;
    } else {
        const auto model = cpu::CpuModel::load(path, static_cast<int>(threads));
        cpu::SessionOptions options;
        options.contextLength = static_cast<int64_t>(ids.size());
        options.kvType = kv == "f16" ? model::KvType::F16 : model::KvType::F32;
        options.maxBatch = std::max<int>(1, static_cast<int>(ids.size()));
        auto session = model->createSession(options);
        logits = session->prefill(ids, cpu::LogitsFor::All);
        vocab = model->hparams().nVocab;
    }

    const auto k = static_cast<size_t>(std::min<long long>(top, vocab));
    std::vector<int32_t> order(static_cast<size_t>(vocab));
    std::string out = "{\"n_vocab\": " + std::to_string(vocab) + ", \"positions\": [";
    char number[64];
    for (size_t pos = 0; pos < ids.size(); ++pos) {
        const float* row = logits.data() + pos * static_cast<size_t>(vocab);
        std::iota(order.begin(), order.end(), 0);
        std::partial_sort(
            order.begin(), order.begin() + static_cast<std::ptrdiff_t>(k), order.end(),
            [&](int32_t a, int32_t b) { return row[a] > row[b] || (row[a] == row[b] && a < b); });
        out += pos ? ", " : "";
        out += "{\"pos\": " + std::to_string(pos) + ", \"top\": [";
        for (size_t i = 0; i < k; ++i) {
            std::snprintf(number, sizeof number, "%.7g", static_cast<double>(row[order[i]]));
            out += (i ? ", [" : "[") + std::to_string(order[i]) + ", " + number + "]";
        }
        out += "]}";
    }
    out += "]}\n";
    std::fwrite(out.data(), 1, out.size(), stdout);
    return 0;
}

} // namespace

OCELLE_CLI_COMMAND(logits, "logits", "top logits at every position of a token sequence (JSON)",
                   "Usage: ocelle-cli logits --model PATH --ids \"ID ID ...\" [--backend auto|cpu|vulkan]\n"
                   "                         [--device X] [--top K] [--threads N] [--kv f32|f16]\n\n"
                   "Feeds the ids as one batched prefill and prints one JSON object:\n"
                   "  {\"n_vocab\": V, \"positions\": [{\"pos\": 0, \"top\": [[id, logit], ...]}, ...]}\n"
                   "with, for every input position, the K (default 10) largest logits after the final\n"
                   "softcap, largest first.\n"
                   "  --backend auto|cpu|vulkan  default auto: Vulkan on a usable GPU, else the CPU\n"
                   "                (the choice and why go to stderr)\n"
                   "  --device X    Vulkan device index or name substring (lavapipe only when named)\n"
                   "  --threads N   worker threads (default 0: all cores)\n"
                   "  --kv f32|f16  KV cache element type (default f32)",
                   runLogits);

} // namespace ocelle::cli
