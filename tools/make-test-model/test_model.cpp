#include "test_model.h"

#include "gguf/dequant.h"
#include "gguf/gguf.h"
#include "gguf/gguf_writer.h"

#include <cmath>
#include <numbers>
#include <stdexcept>
#include <string_view>
#include <unordered_set>

namespace ocelle::testmodel {

using gguf::TensorType;

const char* styleName(Style style) {
    switch (style) {
    case Style::E:
        return "e";
    case Style::Moe:
        return "moe";
    case Style::Dense31:
        return "dense31";
    }
    return "?";
}

const char* weightsName(Weights weights) {
    switch (weights) {
    case Weights::F32:
        return "f32";
    case Weights::Q8_0:
        return "q8_0";
    case Weights::Q4_0:
        return "q4_0";
    case Weights::Mixed:
        return "mixed";
    }
    return "?";
}

Spec defaultSpec(Style style) {
    Spec s;
    s.style = style;
    switch (style) {
    case Style::E:
        // Layers 0-4 own caches (4 is full, 3 sliding: llama.cpp's and HF's donor rules agree),
        // layers 5-9 share them; 10 layers with full attention at 4 and 9.
        s.hidden = 32, s.layers = 10, s.heads = 2, s.kvHeadsSliding = 1, s.kvHeadsFull = 1;
        s.headDimSliding = 64, s.headDimFull = 128, s.window = 6, s.fullEvery = 5;
        s.ropeRotatedPairsFull = 16, s.ffn = 64, s.sharedKvLayers = 5;
        // The per-layer branch normalises a projection of only perLayerDim GELU outputs: below ~16
        // it is often all tail values, and the norm then magnifies tiny differences (llama.cpp's
        // fp16 GELU table moved logits by 0.06 at D = 4, 0.02 at D = 16). Its table is layers x D
        // values per token, so the vocabulary is cut to keep the F32 file at ~55 MB.
        s.perLayerDim = 16, s.vocab = 65536;
        break;
    case Style::Moe:
        s.hidden = 32, s.layers = 7, s.heads = 4, s.kvHeadsSliding = 2, s.kvHeadsFull = 1;
        s.headDimSliding = 48, s.headDimFull = 96, s.window = 5, s.fullEvery = 4;
        s.ropeRotatedPairsFull = 12, s.ffn = 96, s.experts = 16, s.expertsUsed = 4, s.expertFfn = 64;
        break;
    case Style::Dense31:
        s.hidden = 32, s.layers = 8, s.heads = 4, s.kvHeadsSliding = 2, s.kvHeadsFull = 1;
        s.headDimSliding = 64, s.headDimFull = 256, s.window = 7, s.fullEvery = 6;
        s.ropeRotatedPairsFull = 32, s.ffn = 160;
        break;
    }
    return s;
}

bool isSlidingLayer(const Spec& spec, int layer) {
    if (layer == spec.layers - 1) return false;
    return layer % spec.fullEvery != spec.fullEvery - 1;
}

std::vector<int> ffnWidths(const Spec& spec) {
    std::vector<int> widths(static_cast<size_t>(spec.layers), spec.ffn);
    for (int l = spec.layers - spec.sharedKvLayers; l < spec.layers; ++l) widths[static_cast<size_t>(l)] *= 2;
    return widths;
}

std::vector<int> kvHeads(const Spec& spec) {
    std::vector<int> heads;
    for (int l = 0; l < spec.layers; ++l)
        heads.push_back(isSlidingLayer(spec, l) ? spec.kvHeadsSliding : spec.kvHeadsFull);
    return heads;
}

void validate(const Spec& s) {
    auto require = [](bool ok, const std::string& what) {
        if (!ok) throw std::invalid_argument(what);
    };
    require(s.hidden > 0 && s.hidden % 2 == 0, "hidden must be a positive even number");
    require(s.layers >= 2, "layers must be at least 2");
    require(s.heads > 0, "heads must be positive");
    require(s.kvHeadsSliding > 0 && s.heads % s.kvHeadsSliding == 0, "kv-heads must divide heads");
    require(s.kvHeadsFull > 0 && s.heads % s.kvHeadsFull == 0, "kv-heads-full must divide heads");
    require(s.headDimSliding > 0 && s.headDimSliding % 2 == 0, "head-dim must be a positive even number");
    require(s.headDimFull > 0 && s.headDimFull % 2 == 0, "head-dim-full must be a positive even number");
    require(s.window >= 1, "window must be at least 1");
    require(s.fullEvery >= 1, "full-every must be at least 1");
    require(s.ropeRotatedPairsFull >= 0 && s.ropeRotatedPairsFull <= s.headDimFull / 2,
            "rope-pairs-full must be between 0 and head-dim-full / 2");
    require(s.ffn > 0, "ffn must be positive");
    require(s.vocab >= 0, "vocab must not be negative");
    if (s.style == Style::E) {
        require(s.perLayerDim > 0, "an E-style model needs per-layer-dim > 0");
        require(s.sharedKvLayers >= 0 && s.sharedKvLayers <= s.layers - 2,
                "shared-kv must leave at least two layers owning a cache");
        if (s.sharedKvLayers > 0) {
            // llama.cpp's donors are fixed: first shared layer - 2 (sliding) and - 1 (full); they
            // must be of those types, or llama.cpp and HF read different caches.
            const int first = s.layers - s.sharedKvLayers;
            require(!isSlidingLayer(s, first - 1) && isSlidingLayer(s, first - 2),
                    "with shared-kv the last unshared layer must be full and the one before it sliding");
        }
    } else {
        require(s.sharedKvLayers == 0 && s.perLayerDim == 0,
                "only E-style models have shared-kv and per-layer-dim");
    }
    if (s.style == Style::Moe) {
        require(s.experts >= 2 && s.expertsUsed >= 1 && s.expertsUsed <= s.experts,
                "a MoE model needs experts >= 2 and 1 <= experts-used <= experts");
        require(s.expertFfn > 0, "a MoE model needs expert-ffn > 0");
    } else {
        require(s.experts == 0 && s.expertsUsed == 0 && s.expertFfn == 0, "only MoE models have experts");
    }
}

namespace {

// xoshiro256** seeded through splitmix64: reproducible on every platform and standard library.
class Random {
public:
    explicit Random(uint64_t seed) {
        for (auto& word : state_) {
            seed += 0x9e3779b97f4a7c15ull;
            uint64_t z = seed;
            z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
            z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
            word = z ^ (z >> 31);
        }
    }
    uint64_t next() {
        const uint64_t result = rotl(state_[1] * 5, 7) * 9;
        const uint64_t t = state_[1] << 17;
        state_[2] ^= state_[0];
        state_[3] ^= state_[1];
        state_[1] ^= state_[2];
        state_[0] ^= state_[3];
        state_[2] ^= t;
        state_[3] = rotl(state_[3], 45);
        return result;
    }
    double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; } // [0, 1)
    double normal() {                                                          // Box-Muller
        const double u1 = 1.0 - uniform();
        const double u2 = uniform();
        return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
    }

private:
    static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
    uint64_t state_[4];
};

// Each tensor draws from its own stream (seed and name), so changing one shape leaves the others.
Random streamFor(uint64_t seed, std::string_view name) {
    uint64_t hash = 0xcbf29ce484222325ull; // FNV-1a
    for (char c : name) hash = (hash ^ static_cast<uint8_t>(c)) * 0x100000001b3ull;
    return Random(seed ^ hash);
}

class Builder {
public:
    Builder(const Spec& spec, gguf::Writer& writer) : spec_(spec), writer_(writer) {}

    // A matrix (or stack of matrices) of N(0, std^2) values, stored in the spec's weight type.
    void matrix(const std::string& name, std::vector<int64_t> ne, double stddev, int mixedSlot) {
        Random random = streamFor(spec_.seed, name);
        std::vector<float> values(static_cast<size_t>(count(ne)));
        for (auto& v : values) v = static_cast<float>(random.normal() * stddev);
        add(name, std::move(ne), matrixType(mixedSlot), values);
    }
    // A 1-D F32 vector of mean + N(0, noise^2) values (norm weights, scales).
    void vector(const std::string& name, int64_t length, double mean, double noise) {
        Random random = streamFor(spec_.seed, name);
        std::vector<float> values(static_cast<size_t>(length));
        for (auto& v : values) v = static_cast<float>(mean + random.normal() * noise);
        add(name, {length}, TensorType::F32, values);
    }
    void uniformVector(const std::string& name, int64_t length, double low, double high) {
        Random random = streamFor(spec_.seed, name);
        std::vector<float> values(static_cast<size_t>(length));
        for (auto& v : values) v = static_cast<float>(low + (high - low) * random.uniform());
        add(name, {length}, TensorType::F32, values);
    }
    void raw(const std::string& name, std::vector<int64_t> ne, TensorType type,
             const std::vector<float>& values) {
        add(name, std::move(ne), type, values);
    }

    // The type a matrix gets. Quantized types need rows of a multiple of 32; narrower rows (small
    // per-layer-embedding widths) fall back to F16.
    TensorType matrixType(int mixedSlot) const {
        switch (spec_.weights) {
        case Weights::F32:
            return TensorType::F32;
        case Weights::Q8_0:
            return TensorType::Q8_0;
        case Weights::Q4_0:
            return TensorType::Q4_0;
        case Weights::Mixed: {
            static constexpr TensorType cycle[] = {TensorType::Q8_0, TensorType::F16, TensorType::Q4_0,
                                                   TensorType::BF16};
            return cycle[static_cast<size_t>(mixedSlot) % 4];
        }
        }
        return TensorType::F32;
    }

private:
    static int64_t count(const std::vector<int64_t>& ne) {
        int64_t n = 1;
        for (auto d : ne) n *= d;
        return n;
    }
    void add(const std::string& name, std::vector<int64_t> ne, TensorType type,
             const std::vector<float>& values) {
        const bool quantized = type == TensorType::Q8_0 || type == TensorType::Q4_0;
        if (quantized && ne[0] % 32 != 0) type = TensorType::F16;
        if (spec_.dequantizedF32 && type != TensorType::F32) {
            const auto rawType = static_cast<uint32_t>(type);
            const auto traits = gguf::typeTraits(rawType);
            std::vector<uint8_t> row(static_cast<size_t>(ne[0] / traits->blockElements * traits->blockBytes));
            std::vector<float> rounded(values.size());
            for (size_t start = 0; start < values.size(); start += static_cast<size_t>(ne[0])) {
                gguf::quantizeRow(rawType, values.data() + start, row.data(), ne[0]);
                gguf::dequantizeRow(rawType, row.data(), rounded.data() + start, ne[0]);
            }
            writer_.addTensor(name, std::move(ne), static_cast<uint32_t>(TensorType::F32), rounded);
            return;
        }
        writer_.addTensor(name, std::move(ne), static_cast<uint32_t>(type), values);
    }

    const Spec& spec_;
    gguf::Writer& writer_;
};

// Weights: N(0, 1/fan_in) like the fixtures; norm weights about 1 (q/k norms smaller so the
// scale-1.0 attention is not saturated; the output norm about 3 so the final softcap matters).
void addTensors(const Spec& s, int64_t vocab, gguf::Writer& writer) {
    Builder b(s, writer);
    const int64_t n = s.hidden;
    const double embStd = 0.25;
    auto fanIn = [](int64_t width) { return 1.0 / std::sqrt(static_cast<double>(width)); };
    const TensorType embeddingType = s.weights == Weights::Mixed ? TensorType::Q8_0 : b.matrixType(0);

    {
        Random random = streamFor(s.seed, "token_embd.weight");
        std::vector<float> values(static_cast<size_t>(n * vocab));
        for (auto& v : values) v = static_cast<float>(random.normal() * embStd);
        b.raw("token_embd.weight", {n, vocab}, embeddingType, values);
    }
    const int64_t pleWidth = static_cast<int64_t>(s.layers) * s.perLayerDim;
    if (s.style == Style::E) {
        Random random = streamFor(s.seed, "per_layer_token_embd.weight");
        std::vector<float> values(static_cast<size_t>(pleWidth * vocab));
        for (auto& v : values) v = static_cast<float>(random.normal() * embStd);
        b.raw("per_layer_token_embd.weight", {pleWidth, vocab}, embeddingType, values);
        b.matrix("per_layer_model_proj.weight", {n, pleWidth}, fanIn(n), 3);
        b.vector("per_layer_proj_norm.weight", s.perLayerDim, 1.0, 0.1);
    }
    b.vector("output_norm.weight", n, 3.0, 0.3);
    {
        // Proportional RoPE of full layers: factor 1 on the rotated pairs, 1e30 (angle ~0) on the rest.
        std::vector<float> factors(static_cast<size_t>(s.headDimFull / 2), 1e30f);
        for (int i = 0; i < s.ropeRotatedPairsFull; ++i) factors[static_cast<size_t>(i)] = 1.0f;
        b.raw("rope_freqs.weight", {s.headDimFull / 2}, TensorType::F32, factors);
    }

    const auto widths = ffnWidths(s);
    const int firstShared = s.layers - s.sharedKvLayers;
    int slot = 0; // walks the mixed-type cycle
    for (int l = 0; l < s.layers; ++l) {
        const std::string p = "blk." + std::to_string(l) + ".";
        const bool sliding = isSlidingLayer(s, l);
        const int64_t headDim = sliding ? s.headDimSliding : s.headDimFull;
        const int64_t kvHeadCount = sliding ? s.kvHeadsSliding : s.kvHeadsFull;
        const int64_t qWidth = s.heads * headDim;
        const int64_t kvWidth = kvHeadCount * headDim;
        const bool ownsKv = l < firstShared;
        // 26B/31B full layers have no attn_v: V is the raw K projection.
        const bool keyIsValue = s.style != Style::E && !sliding;

        b.vector(p + "attn_norm.weight", n, 1.0, 0.1);
        b.matrix(p + "attn_q.weight", {n, qWidth}, fanIn(n), slot++);
        // Attention has scale 1.0: with q/k norm weights near d^-1/4 the scores have a standard
        // deviation near 1 at every head dim, so softmax is neither flat nor one-hot.
        const double qkNorm = std::pow(static_cast<double>(headDim), -0.25);
        b.vector(p + "attn_q_norm.weight", headDim, qkNorm, 0.1 * qkNorm);
        if (ownsKv) {
            b.matrix(p + "attn_k.weight", {n, kvWidth}, fanIn(n), slot++);
            b.vector(p + "attn_k_norm.weight", headDim, qkNorm, 0.1 * qkNorm);
            if (!keyIsValue) b.matrix(p + "attn_v.weight", {n, kvWidth}, fanIn(n), slot++);
        }
        b.matrix(p + "attn_output.weight", {qWidth, n}, fanIn(qWidth), slot++);
        b.vector(p + "post_attention_norm.weight", n, 1.0, 0.1);
        const int64_t ffn = widths[static_cast<size_t>(l)];
        b.vector(p + "ffn_norm.weight", n, 1.0, 0.1);
        b.matrix(p + "ffn_gate.weight", {n, ffn}, fanIn(n), slot++);
        b.matrix(p + "ffn_up.weight", {n, ffn}, fanIn(n), slot++);
        b.matrix(p + "ffn_down.weight", {ffn, n}, fanIn(ffn), slot++);
        b.vector(p + "post_ffw_norm.weight", n, 1.0, 0.1);
        if (s.style == Style::Moe) {
            const int64_t experts = s.experts;
            // Router kept F32 (as llama-quantize does) and wide (std 4 logits) so that expert choices
            // have clear margins and rounding differences do not flip them.
            {
                Random random = streamFor(s.seed, p + "ffn_gate_inp.weight");
                std::vector<float> values(static_cast<size_t>(n * experts));
                for (auto& v : values) v = static_cast<float>(random.normal() * 4.0);
                b.raw(p + "ffn_gate_inp.weight", {n, experts}, TensorType::F32, values);
            }
            b.vector(p + "ffn_gate_inp.scale", n, 1.0, 0.1);
            b.vector(p + "pre_ffw_norm_2.weight", n, 1.0, 0.1);
            b.vector(p + "post_ffw_norm_1.weight", n, 1.0, 0.1);
            b.vector(p + "post_ffw_norm_2.weight", n, 1.0, 0.1);
            b.matrix(p + "ffn_gate_up_exps.weight", {n, 2 * static_cast<int64_t>(s.expertFfn), experts},
                     fanIn(n), slot++);
            b.matrix(p + "ffn_down_exps.weight", {s.expertFfn, n, experts}, fanIn(s.expertFfn), slot++);
            b.uniformVector(p + "ffn_down_exps.scale", experts, 0.5, 1.5);
        }
        if (s.style == Style::E) {
            b.matrix(p + "inp_gate.weight", {n, s.perLayerDim}, fanIn(n), slot++);
            b.matrix(p + "proj.weight", {s.perLayerDim, n}, fanIn(s.perLayerDim), slot++);
            b.vector(p + "post_norm.weight", n, 1.0, 0.1);
        }
        b.uniformVector(p + "layer_output_scale.weight", 1, 0.5, 1.5);
    }
}

// The `tokenizer.*` keys of the vocabulary file, cut to the first `vocab` tokens when asked: token
// lists truncated, merges kept only when both parts and their result are still tokens.
void copyTokenizer(const gguf::File& source, int64_t vocab, gguf::Writer& writer) {
    const gguf::Value* tokens = source.find("tokenizer.ggml.tokens");
    if (tokens == nullptr || !tokens->isArray() || tokens->elementType() != gguf::ValueType::String)
        source.fail("no tokenizer.ggml.tokens string array");
    const auto total = static_cast<int64_t>(tokens->size());
    const bool truncate = vocab < total;
    std::unordered_set<std::string_view> kept;
    if (truncate)
        for (int64_t i = 0; i < vocab; ++i) kept.insert(tokens->stringAt(static_cast<uint64_t>(i)));

    bool any = false;
    for (const auto& [key, value] : source.metadata()) {
        if (!key.starts_with("tokenizer.")) continue;
        any = true;
        const bool perToken = key == "tokenizer.ggml.tokens" || key == "tokenizer.ggml.scores" ||
                              key == "tokenizer.ggml.token_type";
        if (truncate && perToken) {
            if (!value.isArray() || static_cast<int64_t>(value.size()) != total)
                source.fail(key + " does not have one entry per token");
            std::vector<gguf::MetaValue> items;
            items.reserve(static_cast<size_t>(vocab));
            for (int64_t i = 0; i < vocab; ++i) {
                const auto index = static_cast<uint64_t>(i);
                switch (value.elementType()) {
                case gguf::ValueType::String:
                    items.push_back(gguf::MetaValue::string(std::string(value.stringAt(index))));
                    break;
                case gguf::ValueType::Float32:
                    items.push_back(gguf::MetaValue::float32(static_cast<float>(*value.floatAt(index))));
                    break;
                case gguf::ValueType::Int32:
                    items.push_back(gguf::MetaValue::int32(static_cast<int32_t>(*value.intAt(index))));
                    break;
                default:
                    source.fail(key + " has an unexpected element type");
                }
            }
            writer.set(key, gguf::MetaValue::array(value.elementType(), std::move(items)));
        } else if (truncate && key == "tokenizer.ggml.merges") {
            if (!value.isArray() || value.elementType() != gguf::ValueType::String)
                source.fail("tokenizer.ggml.merges is not a string array");
            std::vector<std::string> merges;
            for (std::string_view merge : value.strings()) {
                const size_t space = merge.find(' ');
                if (space == std::string_view::npos) continue;
                const std::string_view left = merge.substr(0, space), right = merge.substr(space + 1);
                if (kept.contains(left) && kept.contains(right) &&
                    kept.contains(std::string(left) + std::string(right)))
                    merges.emplace_back(merge);
            }
            writer.set(key, gguf::MetaValue::stringArray(merges));
        } else {
            writer.set(key, gguf::MetaValue::copyOf(value));
        }
    }
    if (!any) source.fail("no tokenizer.* keys");
}

uint32_t fileType(Weights weights, bool dequantizedF32) {
    if (dequantizedF32) return 0;
    // llama_ftype: ALL_F32 0, MOSTLY_Q4_0 2, MOSTLY_Q8_0 7; a mixed file is reported as Q8_0.
    switch (weights) {
    case Weights::F32:
        return 0;
    case Weights::Q4_0:
        return 2;
    case Weights::Q8_0:
    case Weights::Mixed:
        return 7;
    }
    return 0;
}

} // namespace

void writeTestModel(const Spec& spec, const std::string& tokenizerPath, const std::string& outputPath) {
    validate(spec);
    const auto source = gguf::File::open(tokenizerPath);
    const gguf::Value* tokens = source->find("tokenizer.ggml.tokens");
    if (tokens == nullptr || !tokens->isArray()) source->fail("no tokenizer.ggml.tokens array");
    const auto tokenizerVocab = static_cast<int64_t>(tokens->size());
    if (spec.vocab > tokenizerVocab)
        throw std::invalid_argument("vocab " + std::to_string(spec.vocab) +
                                    " is larger than the tokenizer's " + std::to_string(tokenizerVocab) +
                                    " tokens");
    const int64_t vocab = spec.vocab > 0 ? spec.vocab : tokenizerVocab;

    using gguf::MetaValue;
    gguf::Writer w;
    // Keys in the order llama.cpp's converter writes them (as in the fixture models).
    const std::string name =
        std::string("ocelle-test-") + styleName(spec.style) + "-" + weightsName(spec.weights);
    w.set("general.architecture", MetaValue::string("gemma4"));
    w.set("general.type", MetaValue::string("model"));
    w.set("general.name", MetaValue::string(name));
    w.set("general.description",
          MetaValue::string("Random-weight Gemma 4 test model written by make-test-model "
                            "(not a trained model), seed " +
                            std::to_string(spec.seed)));
    w.set("gemma4.block_count", MetaValue::uint32(static_cast<uint32_t>(spec.layers)));
    w.set("gemma4.context_length", MetaValue::uint32(spec.style == Style::E ? 131072u : 262144u));
    w.set("gemma4.embedding_length", MetaValue::uint32(static_cast<uint32_t>(spec.hidden)));
    if (spec.style == Style::E) {
        const auto widths = ffnWidths(spec);
        w.set("gemma4.feed_forward_length",
              MetaValue::int32Array(std::vector<int32_t>(widths.begin(), widths.end())));
    } else {
        w.set("gemma4.feed_forward_length", MetaValue::uint32(static_cast<uint32_t>(spec.ffn)));
    }
    w.set("gemma4.attention.head_count", MetaValue::uint32(static_cast<uint32_t>(spec.heads)));
    if (spec.kvHeadsSliding == spec.kvHeadsFull && spec.style == Style::E) {
        w.set("gemma4.attention.head_count_kv",
              MetaValue::uint32(static_cast<uint32_t>(spec.kvHeadsSliding)));
    } else {
        const auto heads = kvHeads(spec);
        w.set("gemma4.attention.head_count_kv",
              MetaValue::int32Array(std::vector<int32_t>(heads.begin(), heads.end())));
    }
    w.set("gemma4.rope.freq_base", MetaValue::float32(1e6f));
    w.set("gemma4.rope.freq_base_swa", MetaValue::float32(1e4f));
    w.set("gemma4.attention.layer_norm_rms_epsilon", MetaValue::float32(1e-6f));
    if (spec.style == Style::Moe) {
        w.set("gemma4.expert_count", MetaValue::uint32(static_cast<uint32_t>(spec.experts)));
        w.set("gemma4.expert_used_count", MetaValue::uint32(static_cast<uint32_t>(spec.expertsUsed)));
        w.set("gemma4.expert_feed_forward_length", MetaValue::uint32(static_cast<uint32_t>(spec.expertFfn)));
    }
    w.set("gemma4.attention.key_length", MetaValue::uint32(static_cast<uint32_t>(spec.headDimFull)));
    w.set("gemma4.attention.value_length", MetaValue::uint32(static_cast<uint32_t>(spec.headDimFull)));
    w.set("gemma4.final_logit_softcapping", MetaValue::float32(30.0f));
    w.set("gemma4.attention.sliding_window", MetaValue::uint32(static_cast<uint32_t>(spec.window)));
    w.set("gemma4.attention.shared_kv_layers", MetaValue::uint32(static_cast<uint32_t>(spec.sharedKvLayers)));
    w.set("gemma4.embedding_length_per_layer_input",
          MetaValue::uint32(static_cast<uint32_t>(spec.perLayerDim)));
    std::vector<bool> pattern;
    for (int l = 0; l < spec.layers; ++l) pattern.push_back(isSlidingLayer(spec, l));
    w.set("gemma4.attention.sliding_window_pattern", MetaValue::boolArray(pattern));
    w.set("gemma4.attention.key_length_swa", MetaValue::uint32(static_cast<uint32_t>(spec.headDimSliding)));
    w.set("gemma4.attention.value_length_swa", MetaValue::uint32(static_cast<uint32_t>(spec.headDimSliding)));
    w.set("gemma4.rope.dimension_count", MetaValue::uint32(static_cast<uint32_t>(spec.headDimFull)));
    w.set("gemma4.rope.dimension_count_swa", MetaValue::uint32(static_cast<uint32_t>(spec.headDimSliding)));
    w.set("general.file_type", MetaValue::uint32(fileType(spec.weights, spec.dequantizedF32)));
    w.set("general.quantization_version", MetaValue::uint32(2));
    copyTokenizer(*source, vocab, w);

    addTensors(spec, vocab, w);
    w.write(outputPath);
}

} // namespace ocelle::testmodel
