#include "model/layer_plan.h"

#include "gguf/dequant.h"
#include "gguf/gguf.h"

#include <cmath>

namespace ocelle::model {

Weight Weight::rowRange(int64_t first, int64_t count) const {
    Weight w = *this;
    w.data = data + static_cast<uint64_t>(first) * rowBytes;
    w.rows = count;
    w.experts = 1;
    return w;
}

Weight Weight::expert(int64_t e) const {
    const int64_t perExpert = rows / experts;
    return rowRange(e * perExpert, perExpert);
}

std::string Weight::name() const {
    return tensor ? tensor->name : std::string("<none>");
}

namespace {

std::string shapeOf(std::initializer_list<int64_t> ne) {
    std::string s = "{";
    bool first = true;
    for (int64_t n : ne) {
        if (!first) s += ", ";
        s += std::to_string(n);
        first = false;
    }
    return s + "}";
}

class PlanBuilder {
public:
    explicit PlanBuilder(const gguf::File& file) : file_(file) {}

    [[noreturn]] void fail(const std::string& message) const {
        throw ModelError(file_.path() + ": " + message);
    }

    const gguf::TensorInfo* find(const std::string& name, std::initializer_list<int64_t> shape,
                                 bool required) const {
        const gguf::TensorInfo* t = file_.tensor(name);
        if (!t) {
            if (required)
                fail("required tensor '" + name + "' is missing (expected shape " + shapeOf(shape) + ")");
            return nullptr;
        }
        bool ok = t->ne.size() <= shape.size();
        size_t i = 0;
        for (int64_t n : shape) ok = ok && t->dim(i++) == n;
        if (!ok) fail("tensor '" + name + "' has shape " + t->shapeString() + ", expected " + shapeOf(shape));
        return t;
    }

    // A matrix used by matrix products: any type the dequantizer knows, rows whole blocks.
    Weight matrix(const std::string& name, std::initializer_list<int64_t> shape, bool required = true) const {
        const gguf::TensorInfo* t = find(name, shape, required);
        if (!t) return {};
        const auto traits = gguf::typeTraits(t->rawType);
        if (!traits || !gguf::canDequantize(t->rawType))
            fail("tensor '" + name + "' has weight type " + gguf::typeName(t->rawType) +
                 ", which Ocelle cannot compute with yet");
        if (t->dim(0) % traits->blockElements)
            fail("tensor '" + name + "': row width " + std::to_string(t->dim(0)) +
                 " is not a multiple of the " + gguf::typeName(t->rawType) + " block size " +
                 std::to_string(traits->blockElements));
        Weight w;
        w.tensor = t;
        w.type = t->rawType;
        w.data = t->data;
        w.cols = t->dim(0);
        w.rows = t->rows();
        w.rowBytes = static_cast<uint64_t>(t->dim(0) / traits->blockElements) * traits->blockBytes;
        w.experts = t->ne.size() >= 3 ? t->dim(2) : 1;
        if (w.rowBytes * static_cast<uint64_t>(w.rows) > t->nbytes)
            fail("tensor '" + name + "' holds fewer bytes than its shape needs");
        return w;
    }

    // A small vector (norm weight, scale) copied out as f32.
    std::vector<float> vector(const std::string& name, int64_t length, bool required = true) const {
        const gguf::TensorInfo* t = find(name, {length}, required);
        if (!t) return {};
        if (t->elements() != length)
            fail("tensor '" + name + "' has shape " + t->shapeString() + ", expected {" +
                 std::to_string(length) + "}");
        const auto traits = gguf::typeTraits(t->rawType);
        if (!traits || !gguf::canDequantize(t->rawType) || length % traits->blockElements)
            fail("tensor '" + name + "' has type " + gguf::typeName(t->rawType) + ", expected F32");
        std::vector<float> out(static_cast<size_t>(length));
        gguf::dequantizeRow(t->rawType, t->data, out.data(), length);
        for (float v : out)
            if (!std::isfinite(v)) fail("tensor '" + name + "' contains a non-finite value");
        return out;
    }

private:
    const gguf::File& file_;
};

} // namespace

ModelPlan ModelPlan::build(const gguf::File& file, HyperParams hp) {
    PlanBuilder b(file);
    ModelPlan plan;
    const int64_t E = hp.nEmbd;
    const int64_t V = hp.nVocab;
    plan.tokenEmbedding = b.matrix("token_embd.weight", {E, V});
    plan.outputNorm = b.vector("output_norm.weight", E);
    plan.ropeFreqFactors = b.vector("rope_freqs.weight", hp.ropeDimsFull / 2, false);
    for (float f : plan.ropeFreqFactors)
        if (!(f > 0)) b.fail("tensor 'rope_freqs.weight' must hold positive factors");

    const int64_t D = hp.perLayerInputDim;
    const int64_t L = hp.nLayer;
    if (D > 0) {
        plan.perLayerTokenEmbedding = b.matrix("per_layer_token_embd.weight", {L * D, V});
        plan.perLayerModelProjection = b.matrix("per_layer_model_proj.weight", {E, L * D});
        plan.perLayerProjectionNorm = b.vector("per_layer_proj_norm.weight", D);
    }

    for (int l = 0; l < hp.nLayer; ++l) {
        const auto& lh = hp.layers[static_cast<size_t>(l)];
        const std::string p = "blk." + std::to_string(l) + ".";
        LayerPlan layer;
        layer.index = l;
        layer.attnNorm = b.vector(p + "attn_norm.weight", E);
        layer.postAttentionNorm = b.vector(p + "post_attention_norm.weight", E);

        auto& a = layer.attention;
        a.sliding = lh.sliding;
        a.window = lh.sliding ? hp.slidingWindow : 0;
        a.nHead = hp.nHead;
        a.nHeadKv = lh.nHeadKv;
        a.headDim = lh.headDim;
        a.ropeDims = lh.ropeDims;
        a.ropeBase = lh.ropeBase;
        a.ropeUsesFreqFactors = !lh.sliding && !plan.ropeFreqFactors.empty();
        a.ownsKv = !lh.sharedKv;
        a.kvSource = lh.kvSource;
        const int64_t qWidth = int64_t(hp.nHead) * lh.headDim;
        const int64_t kvWidth = int64_t(lh.nHeadKv) * lh.headDim;
        a.q = b.matrix(p + "attn_q.weight", {E, qWidth});
        a.qNorm = b.vector(p + "attn_q_norm.weight", lh.headDim);
        a.output = b.matrix(p + "attn_output.weight", {qWidth, E});
        if (a.ownsKv) {
            a.k = b.matrix(p + "attn_k.weight", {E, kvWidth});
            a.kNorm = b.vector(p + "attn_k_norm.weight", lh.headDim);
            a.v = b.matrix(p + "attn_v.weight", {E, kvWidth}, false);
            a.valueFromKey = !a.v;
            a.cacheIndex = static_cast<int>(plan.cacheOwners.size());
            plan.cacheOwners.push_back(l);
        } else {
            const auto& donor = plan.layers[static_cast<size_t>(lh.kvSource)].attention;
            a.cacheIndex = donor.cacheIndex;
            if (donor.headDim != a.headDim)
                b.fail("layer " + std::to_string(l) + " shares the KV cache of layer " +
                       std::to_string(lh.kvSource) + " whose head dimension differs");
        }

        layer.ffnNorm = b.vector(p + "ffn_norm.weight", E);
        layer.postFfwNorm = b.vector(p + "post_ffw_norm.weight", E);
        layer.ffn.width = lh.ffnWidth;
        layer.ffn.gate = b.matrix(p + "ffn_gate.weight", {E, lh.ffnWidth});
        layer.ffn.up = b.matrix(p + "ffn_up.weight", {E, lh.ffnWidth});
        layer.ffn.down = b.matrix(p + "ffn_down.weight", {lh.ffnWidth, E});

        if (hp.isMoe()) {
            MoePlan m;
            const int64_t X = hp.nExpert;
            const int64_t F = hp.expertFfnWidth;
            m.nExpert = hp.nExpert;
            m.nUsed = hp.nExpertUsed;
            m.width = hp.expertFfnWidth;
            m.router = b.matrix(p + "ffn_gate_inp.weight", {E, X});
            m.routerScale = b.vector(p + "ffn_gate_inp.scale", E);
            if (file.tensor(p + "ffn_gate_up_exps.weight")) {
                m.gateUp = b.matrix(p + "ffn_gate_up_exps.weight", {E, 2 * F, X});
            } else if (file.tensor(p + "ffn_gate_exps.weight")) {
                m.gate = b.matrix(p + "ffn_gate_exps.weight", {E, F, X});
                m.up = b.matrix(p + "ffn_up_exps.weight", {E, F, X});
            } else {
                b.fail("required tensor '" + p +
                       "ffn_gate_up_exps.weight' (or ffn_gate_exps + ffn_up_exps) is missing");
            }
            m.down = b.matrix(p + "ffn_down_exps.weight", {F, E, X});
            m.downScale = b.vector(p + "ffn_down_exps.scale", X, false);
            if (m.downScale.empty()) m.downScale.assign(static_cast<size_t>(X), 1.0f);
            m.preNorm2 = b.vector(p + "pre_ffw_norm_2.weight", E);
            m.postNorm1 = b.vector(p + "post_ffw_norm_1.weight", E);
            m.postNorm2 = b.vector(p + "post_ffw_norm_2.weight", E);
            layer.moe = std::move(m);
        }
        if (D > 0) {
            PerLayerInputPlan ple;
            ple.inputGate = b.matrix(p + "inp_gate.weight", {E, D});
            ple.projection = b.matrix(p + "proj.weight", {D, E});
            ple.postNorm = b.vector(p + "post_norm.weight", E);
            layer.perLayerInput = std::move(ple);
        }
        const auto scale = b.vector(p + "layer_output_scale.weight", 1, false);
        layer.outputScale = scale.empty() ? 1.0f : scale[0];
        plan.layers.push_back(std::move(layer));
    }
    for (const auto& t : file.tensors()) plan.weightBytes += t.nbytes;
    plan.hp = std::move(hp);
    return plan;
}

Model::~Model() = default;

std::unique_ptr<Model> Model::load(const std::string& path) {
    return fromFile(gguf::File::open(path));
}

std::unique_ptr<Model> Model::fromFile(std::unique_ptr<gguf::File> file) {
    std::unique_ptr<Model> model(new Model);
    HyperParams hp = HyperParams::fromFile(*file);
    model->plan_ = ModelPlan::build(*file, std::move(hp));
    model->file_ = std::move(file);
    return model;
}

} // namespace ocelle::model
