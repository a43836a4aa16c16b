// `ocelle-cli info PATH [--ctx N] [--kv f32|f16]`: what a Gemma 4 GGUF holds and what running it costs.
#include "command.h"

#include "engine/backend.h"
#include "gguf/gguf.h"
#include "model/layer_plan.h"

#include <cstdio>
#include <map>
#include <string>

namespace ocelle::cli {
namespace {

std::string humanBytes(uint64_t bytes) {
    char buf[64];
    const double b = static_cast<double>(bytes);
    if (b >= 1024.0 * 1024 * 1024)
        std::snprintf(buf, sizeof buf, "%.2f GiB", b / (1024.0 * 1024 * 1024));
    else if (b >= 1024.0 * 1024)
        std::snprintf(buf, sizeof buf, "%.2f MiB", b / (1024.0 * 1024));
    else
        std::snprintf(buf, sizeof buf, "%.2f KiB", b / 1024.0);
    return std::to_string(bytes) + " bytes (" + buf + ")";
}

template <typename T, typename F> std::string perLayerList(const std::vector<T>& layers, F field) {
    std::string s = "[";
    for (size_t i = 0; i < layers.size(); ++i) s += (i ? ", " : "") + field(layers[i]);
    return s + "]";
}

int runInfo(const std::vector<std::string>& argv) {
    Args args(argv, {"--ctx", "--kv"}, {});
    if (args.positionals().size() != 1) throw UsageError("expected exactly one model PATH");
    const std::string path = args.positionals()[0];
    const std::string kvName = args.value("--kv").value_or("f32");
    if (kvName != "f32" && kvName != "f16") throw UsageError("--kv must be f32 or f16");
    const auto kvType = kvName == "f16" ? model::KvType::F16 : model::KvType::F32;

    const auto loaded = model::Model::load(path);
    const auto& hp = loaded->hparams();
    const auto& plan = loaded->plan();
    const long long ctx =
        args.integer("--ctx", hp.contextLength > 0 ? std::min<long long>(hp.contextLength, 4096) : 4096);
    if (ctx < 1) throw UsageError("--ctx must be at least 1");

    std::printf("file: %s\n", path.c_str());
    std::printf("architecture: %s\n", hp.architecture.c_str());
    if (!hp.name.empty()) std::printf("name: %s\n", hp.name.c_str());
    std::printf("variant: %s\n", model::variantName(hp.variant));
    std::printf("\nhyperparameters:\n");
    std::printf("  context_length: %lld\n", static_cast<long long>(hp.contextLength));
    std::printf("  n_vocab: %d\n", hp.nVocab);
    std::printf("  embedding_length: %d\n", hp.nEmbd);
    std::printf("  block_count: %d\n", hp.nLayer);
    std::printf("  head_count: %d\n", hp.nHead);
    std::printf("  head_count_kv: %s\n",
                perLayerList(hp.layers, [](const auto& l) { return std::to_string(l.nHeadKv); }).c_str());
    std::printf("  key_length (= value_length) full / sliding: %d / %d\n", hp.headDimFull, hp.headDimSliding);
    std::printf("  feed_forward_length: %s\n",
                perLayerList(hp.layers, [](const auto& l) { return std::to_string(l.ffnWidth); }).c_str());
    std::printf("  layer types (S sliding, F full): %s\n", perLayerList(hp.layers, [](const auto& l) {
                                                               return std::string(l.sliding ? "S" : "F");
                                                           }).c_str());
    std::printf("  sliding_window: %d\n", hp.slidingWindow);
    std::printf("  rope.dimension_count full / sliding: %d / %d\n", hp.ropeDimsFull, hp.ropeDimsSliding);
    std::printf("  rope.freq_base full / sliding: %g / %g\n", hp.ropeBaseFull, hp.ropeBaseSliding);
    if (!plan.ropeFreqFactors.empty()) {
        int rotating = 0;
        for (float f : plan.ropeFreqFactors) rotating += f < 1e10f;
        std::printf("  rope_freqs: %d of %zu pairs rotate on full layers\n", rotating,
                    plan.ropeFreqFactors.size());
    }
    std::printf("  layer_norm_rms_epsilon: %g\n", hp.rmsEps);
    std::printf("  final_logit_softcapping: %g\n", hp.finalLogitSoftcap);
    std::printf("  shared_kv_layers: %d\n", hp.sharedKvLayers);
    std::printf("  KV source per layer: %s\n",
                perLayerList(hp.layers, [](const auto& l) { return std::to_string(l.kvSource); }).c_str());
    std::printf("  V = K projection (no attn_v) on layers: %s\n",
                [&] {
                    std::string s;
                    for (const auto& l : plan.layers)
                        if (l.attention.ownsKv && l.attention.valueFromKey)
                            s += (s.empty() ? "" : ", ") + std::to_string(l.index);
                    return s.empty() ? std::string("none") : s;
                }()
                    .c_str());
    std::printf("  embedding_length_per_layer_input: %d\n", hp.perLayerInputDim);
    std::printf("  expert_count: %d\n", hp.nExpert);
    std::printf("  expert_used_count: %d\n", hp.nExpertUsed);
    std::printf("  expert_feed_forward_length: %d\n", hp.expertFfnWidth);
    std::printf("  layer_output_scale: %s\n", perLayerList(plan.layers, [](const auto& l) {
                                                  char b[32];
                                                  std::snprintf(b, sizeof b, "%.4g", l.outputScale);
                                                  return std::string(b);
                                              }).c_str());

    std::map<std::string, std::pair<int, uint64_t>> byType;
    for (const auto& t : loaded->file().tensors()) {
        auto& entry = byType[gguf::typeName(t.rawType)];
        entry.first += 1;
        entry.second += t.nbytes;
    }
    std::printf("\ntensors: %zu\n", loaded->file().tensors().size());
    for (const auto& [type, entry] : byType)
        std::printf("  %-6s %5d tensors, %s\n", type.c_str(), entry.first, humanBytes(entry.second).c_str());
    std::printf("file size: %s\n", humanBytes(loaded->file().fileSize()).c_str());

    const int batch = engine::SessionOptions::kPassTokens; // tokens per pass of the engine's sessions
    const auto m = model::estimateMemory(hp, plan.weightBytes, ctx, kvType, batch);
    std::printf("\nmemory estimate at context %lld (KV cache %s, batch %d):\n", ctx,
                model::kvTypeName(kvType), batch);
    std::printf("  weights: %s\n", humanBytes(m.weights).c_str());
    std::printf("  kv cache: %s (%d of %d layers own a cache)\n", humanBytes(m.kvCache).c_str(),
                hp.layersOwningKv(), hp.nLayer);
    std::printf("  activations: %s\n", humanBytes(m.activations).c_str());
    std::printf("  total: %s\n", humanBytes(m.total()).c_str());
    return 0;
}

} // namespace

OCELLE_CLI_COMMAND(
    info, "info", "describe a Gemma 4 GGUF: variant, hyperparameters, tensors, memory",
    "Usage: ocelle-cli info PATH [--ctx N] [--kv f32|f16]\n\n"
    "Prints the architecture, the variant (E2B/E4B/26B-A4B/31B/other), every hyperparameter,\n"
    "the tensor count and bytes by type, and an estimate of the memory a session needs at\n"
    "context length N (weights + KV cache + activations; default min(trained context, 4096)).\n"
    "  --kv f32|f16   KV cache element type for the estimate (default f32)",
    runInfo);

} // namespace ocelle::cli
