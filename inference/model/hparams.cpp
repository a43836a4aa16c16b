#include "model/hparams.h"

#include "gguf/gguf.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

namespace ocelle::model {

const char* variantName(Variant v) {
    switch (v) {
    case Variant::E2B:
        return "E2B";
    case Variant::E4B:
        return "E4B";
    case Variant::A4B26B:
        return "26B-A4B";
    case Variant::Dense31B:
        return "31B";
    case Variant::Other:
        break;
    }
    return "other";
}

const char* kvTypeName(KvType t) {
    return t == KvType::F32 ? "f32" : "f16";
}

namespace {

constexpr int64_t kMaxDimension = int64_t(1) << 24; // far above any real width, below int overflow

class KeyReader {
public:
    explicit KeyReader(const gguf::File& file) : file_(file) {}

    [[noreturn]] void fail(const std::string& message) const {
        throw ModelError(file_.path() + ": " + message);
    }

    std::string key(const char* suffix) const { return std::string("gemma4.") + suffix; }

    // A positive count that fits comfortably in an int.
    int requirePositive(const char* suffix) const {
        const auto v = integer(suffix);
        if (!v) fail("required metadata '" + key(suffix) + "' is missing");
        return checkRange(suffix, *v, 1);
    }
    int optionalCount(const char* suffix, int fallback) const {
        const auto v = integer(suffix);
        return v ? checkRange(suffix, *v, 0) : fallback;
    }
    float optionalFloat(const char* suffix, float fallback) const {
        const gguf::Value* value = file_.find(key(suffix));
        if (!value) return fallback;
        const auto f = value->toFloat();
        if (!f || !std::isfinite(*f))
            fail("metadata '" + key(suffix) + "' should be a finite number, found " + value->describe());
        return static_cast<float>(*f);
    }

    // A u32/i32 scalar applied to every layer, or an integer array with one entry per layer.
    std::vector<int> perLayer(const char* suffix, int nLayer, int minimum, bool required) const {
        const gguf::Value* value = file_.find(key(suffix));
        if (!value) {
            if (required) fail("required metadata '" + key(suffix) + "' is missing");
            return {};
        }
        std::vector<int> out;
        if (value->isArray()) {
            if (value->size() != static_cast<uint64_t>(nLayer))
                fail("metadata '" + key(suffix) + "' has " + std::to_string(value->size()) +
                     " entries, expected one per layer (" + std::to_string(nLayer) + ")");
            for (int i = 0; i < nLayer; ++i) {
                const auto v = value->intAt(static_cast<uint64_t>(i));
                if (!v)
                    fail("metadata '" + key(suffix) + "' should hold integers, found " + value->describe());
                out.push_back(checkRange(suffix, *v, minimum));
            }
        } else {
            const auto v = value->toInt();
            if (!v)
                fail("metadata '" + key(suffix) + "' should be an integer or integer array, found " +
                     value->describe());
            out.assign(static_cast<size_t>(nLayer), checkRange(suffix, *v, minimum));
        }
        return out;
    }

    std::vector<bool> boolPerLayer(const char* suffix, int nLayer) const {
        const gguf::Value* value = file_.find(key(suffix));
        if (!value) fail("required metadata '" + key(suffix) + "' is missing");
        if (!value->isArray() || value->size() != static_cast<uint64_t>(nLayer))
            fail("metadata '" + key(suffix) + "' should be a bool array with one entry per layer (" +
                 std::to_string(nLayer) + "), found " + value->describe());
        std::vector<bool> out;
        for (int i = 0; i < nLayer; ++i) {
            auto b = value->boolAt(static_cast<uint64_t>(i));
            if (!b) {
                const auto asInt = value->intAt(static_cast<uint64_t>(i)); // some writers use u8/i32
                if (!asInt)
                    fail("metadata '" + key(suffix) + "' should hold bools, found " + value->describe());
                b = *asInt != 0;
            }
            out.push_back(*b);
        }
        return out;
    }

private:
    std::optional<int64_t> integer(const char* suffix) const {
        const gguf::Value* value = file_.find(key(suffix));
        if (!value) return std::nullopt;
        const auto v = value->toInt();
        if (!v) fail("metadata '" + key(suffix) + "' should be an integer, found " + value->describe());
        return v;
    }
    int checkRange(const char* suffix, int64_t v, int64_t minimum) const {
        if (v < minimum || v > kMaxDimension)
            fail("metadata '" + key(suffix) + "' = " + std::to_string(v) + " is out of range");
        return static_cast<int>(v);
    }

    const gguf::File& file_;
};

Variant detectVariant(const HyperParams& hp) {
    if (hp.nLayer == 35 && hp.nEmbd == 1536 && hp.hasPerLayerInputs()) return Variant::E2B;
    if (hp.nLayer == 42 && hp.nEmbd == 2560 && hp.hasPerLayerInputs()) return Variant::E4B;
    if (hp.nLayer == 30 && hp.nEmbd == 2816 && hp.nExpert == 128) return Variant::A4B26B;
    if (hp.nLayer == 60 && hp.nEmbd == 5376 && !hp.isMoe()) return Variant::Dense31B;
    return Variant::Other;
}

} // namespace

HyperParams HyperParams::fromFile(const gguf::File& file) {
    KeyReader keys(file);
    HyperParams hp;
    const auto arch = file.getString("general.architecture");
    if (!arch) keys.fail("not a model file: metadata 'general.architecture' is missing");
    if (*arch != "gemma4")
        keys.fail("architecture '" + *arch +
                  "' is not supported: Ocelle runs Gemma 4 text models "
                  "(general.architecture = gemma4)" +
                  (*arch == "clip" ? std::string(" (this looks like an mmproj file: load it as the "
                                                 "image/audio projector, not as the text model)")
                                   : std::string()));
    hp.architecture = *arch;
    hp.name = file.getString("general.name").value_or("");

    hp.nLayer = keys.requirePositive("block_count");
    hp.nEmbd = keys.requirePositive("embedding_length");
    hp.nHead = keys.requirePositive("attention.head_count");
    hp.contextLength = keys.optionalCount("context_length", 0);
    hp.headDimFull = keys.requirePositive("attention.key_length");
    hp.headDimSliding = keys.requirePositive("attention.key_length_swa");
    const int valueFull = keys.optionalCount("attention.value_length", hp.headDimFull);
    const int valueSliding = keys.optionalCount("attention.value_length_swa", hp.headDimSliding);
    if (valueFull != hp.headDimFull || valueSliding != hp.headDimSliding)
        keys.fail("key and value lengths differ (full " + std::to_string(hp.headDimFull) + "/" +
                  std::to_string(valueFull) + ", sliding " + std::to_string(hp.headDimSliding) + "/" +
                  std::to_string(valueSliding) + "): Gemma 4 needs them equal");
    hp.ropeDimsFull = keys.optionalCount("rope.dimension_count", hp.headDimFull);
    hp.ropeDimsSliding = keys.optionalCount("rope.dimension_count_swa", hp.headDimSliding);
    if (hp.ropeDimsFull > hp.headDimFull || hp.ropeDimsFull % 2 || hp.ropeDimsSliding > hp.headDimSliding ||
        hp.ropeDimsSliding % 2)
        keys.fail("RoPE dimension counts (" + std::to_string(hp.ropeDimsFull) + ", swa " +
                  std::to_string(hp.ropeDimsSliding) + ") must be even and at most the head dimensions");
    hp.ropeBaseFull = keys.optionalFloat("rope.freq_base", 1e6f);
    hp.ropeBaseSliding = keys.optionalFloat("rope.freq_base_swa", 1e4f);
    if (hp.ropeBaseFull <= 0 || hp.ropeBaseSliding <= 0) keys.fail("RoPE frequency bases must be positive");
    hp.rmsEps = keys.optionalFloat("attention.layer_norm_rms_epsilon", 1e-6f);
    if (!(hp.rmsEps > 0)) keys.fail("'gemma4.attention.layer_norm_rms_epsilon' must be positive");
    hp.slidingWindow = keys.requirePositive("attention.sliding_window");
    hp.sharedKvLayers = keys.optionalCount("attention.shared_kv_layers", 0);
    hp.perLayerInputDim = keys.optionalCount("embedding_length_per_layer_input", 0);
    hp.finalLogitSoftcap = keys.optionalFloat("final_logit_softcapping", 30.0f);
    if (hp.finalLogitSoftcap < 0) keys.fail("'gemma4.final_logit_softcapping' must not be negative");
    hp.nExpert = keys.optionalCount("expert_count", 0);
    hp.nExpertUsed = keys.optionalCount("expert_used_count", 0);
    hp.expertFfnWidth = keys.optionalCount("expert_feed_forward_length", 0);
    if (hp.nExpert > 0 && (hp.nExpertUsed < 1 || hp.nExpertUsed > hp.nExpert || hp.expertFfnWidth < 1))
        keys.fail("MoE metadata is inconsistent: expert_count " + std::to_string(hp.nExpert) +
                  ", expert_used_count " + std::to_string(hp.nExpertUsed) + ", expert_feed_forward_length " +
                  std::to_string(hp.expertFfnWidth));

    const auto sliding = keys.boolPerLayer("attention.sliding_window_pattern", hp.nLayer);
    const auto kvHeads = keys.perLayer("attention.head_count_kv", hp.nLayer, 1, false);
    const auto ffn = keys.perLayer("feed_forward_length", hp.nLayer, 1, true);
    if (hp.sharedKvLayers >= hp.nLayer)
        keys.fail("shared_kv_layers (" + std::to_string(hp.sharedKvLayers) +
                  ") leaves no layer with its own KV cache");

    hp.layers.resize(static_cast<size_t>(hp.nLayer));
    const int firstShared = hp.firstSharedLayer();
    for (int l = 0; l < hp.nLayer; ++l) {
        auto& layer = hp.layers[static_cast<size_t>(l)];
        layer.sliding = sliding[static_cast<size_t>(l)];
        layer.headDim = layer.sliding ? hp.headDimSliding : hp.headDimFull;
        layer.ropeDims = layer.sliding ? hp.ropeDimsSliding : hp.ropeDimsFull;
        layer.ropeBase = layer.sliding ? hp.ropeBaseSliding : hp.ropeBaseFull;
        layer.nHeadKv = kvHeads.empty() ? hp.nHead : kvHeads[static_cast<size_t>(l)];
        if (hp.nHead % layer.nHeadKv)
            keys.fail("layer " + std::to_string(l) + ": head_count " + std::to_string(hp.nHead) +
                      " is not a multiple of head_count_kv " + std::to_string(layer.nHeadKv));
        layer.ffnWidth = ffn[static_cast<size_t>(l)];
        layer.sharedKv = l >= firstShared;
        layer.kvSource = l;
    }
    // A shared layer attends over the cache of the last unshared layer of its own type (HF's rule;
    // it equals llama.cpp's fixed s-2 / s-1 donors on E2B, E4B and the fixtures).
    for (int l = firstShared; l < hp.nLayer; ++l) {
        auto& layer = hp.layers[static_cast<size_t>(l)];
        int donor = -1;
        for (int d = firstShared - 1; d >= 0; --d)
            if (hp.layers[static_cast<size_t>(d)].sliding == layer.sliding) {
                donor = d;
                break;
            }
        if (donor < 0)
            keys.fail("layer " + std::to_string(l) + " shares its KV cache but no unshared " +
                      (layer.sliding ? "sliding" : "full") + " layer exists to share it with");
        const auto& source = hp.layers[static_cast<size_t>(donor)];
        if (source.nHeadKv != layer.nHeadKv)
            keys.fail("layer " + std::to_string(l) + " shares the KV cache of layer " +
                      std::to_string(donor) + " but their head_count_kv differ (" +
                      std::to_string(layer.nHeadKv) + " vs " + std::to_string(source.nHeadKv) + ")");
        layer.kvSource = donor;
    }

    const gguf::TensorInfo* embd = file.tensor("token_embd.weight");
    if (!embd) keys.fail("required tensor 'token_embd.weight' is missing");
    if (embd->ne.size() != 2 || embd->dim(0) != hp.nEmbd || embd->dim(1) < 1 ||
        embd->dim(1) > std::numeric_limits<int>::max())
        keys.fail("tensor 'token_embd.weight' has shape " + embd->shapeString() + ", expected {" +
                  std::to_string(hp.nEmbd) + ", n_vocab}");
    hp.nVocab = static_cast<int>(embd->dim(1));
    hp.variant = detectVariant(hp);
    return hp;
}

int HyperParams::layersOwningKv() const {
    return static_cast<int>(
        std::count_if(layers.begin(), layers.end(), [](const auto& l) { return !l.sharedKv; }));
}

uint64_t kvCacheBytes(const HyperParams& hp, int64_t contextLength, KvType kvType) {
    uint64_t bytes = 0;
    for (const auto& layer : hp.layers) {
        if (layer.sharedKv) continue;
        const int64_t slots =
            layer.sliding ? std::min<int64_t>(hp.slidingWindow, contextLength) : contextLength;
        bytes += 2ull * static_cast<uint64_t>(slots) * static_cast<uint64_t>(layer.nHeadKv) *
                 static_cast<uint64_t>(layer.headDim) * static_cast<uint64_t>(kvTypeBytes(kvType));
    }
    return bytes;
}

MemoryEstimate estimateMemory(const HyperParams& hp, uint64_t weightBytes, int64_t contextLength,
                              KvType kvType, int batch) {
    MemoryEstimate m;
    m.weights = weightBytes;
    m.kvCache = kvCacheBytes(hp, contextLength, kvType);
    // One pass keeps, per token: the residual stream and its normed copy, Q/K/V and the attention
    // output at the widest head dim, the widest FFN's gate and up, the per-layer inputs; plus the
    // attention scores of one query row per thread (bounded by the context) and the logits of one
    // position. K/V of owning layers for the batch wait to be committed to the cache.
    uint64_t widestFfn = 0, widestQ = 0;
    for (const auto& layer : hp.layers) {
        widestFfn = std::max<uint64_t>(widestFfn, static_cast<uint64_t>(layer.ffnWidth));
        widestQ = std::max<uint64_t>(widestQ,
                                     static_cast<uint64_t>(hp.nHead) * static_cast<uint64_t>(layer.headDim));
    }
    widestFfn = std::max<uint64_t>(widestFfn, 2ull * static_cast<uint64_t>(hp.expertFfnWidth));
    const uint64_t perToken =
        4ull * (4ull * static_cast<uint64_t>(hp.nEmbd) + 3ull * widestQ + 2ull * widestFfn +
                static_cast<uint64_t>(hp.nLayer) * static_cast<uint64_t>(hp.perLayerInputDim) +
                static_cast<uint64_t>(hp.nExpert));
    uint64_t batchKv = 0;
    for (const auto& layer : hp.layers)
        if (!layer.sharedKv)
            batchKv +=
                2ull * 4ull * static_cast<uint64_t>(layer.nHeadKv) * static_cast<uint64_t>(layer.headDim);
    m.activations = static_cast<uint64_t>(batch) * (perToken + batchKv) +
                    4ull * static_cast<uint64_t>(contextLength) * 2ull +
                    4ull * static_cast<uint64_t>(hp.nVocab);
    return m;
}

} // namespace ocelle::model
