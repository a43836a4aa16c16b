// Writes the GGUF fuzzer's seed corpus: small valid files covering every metadata value type,
// nested arrays, every tensor type the dequantizers handle, both versions and several alignments.
#include "gguf/gguf_writer.h"

#include <cstdio>
#include <string>
#include <vector>

using namespace ocelle::gguf;

namespace {

std::vector<float> ramp(size_t n) {
    std::vector<float> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = static_cast<float>(i % 17) * 0.125f - 1.0f;
    return v;
}

std::vector<uint8_t> pattern(size_t n) {
    std::vector<uint8_t> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(i * 37 + 11);
    return v;
}

void rawTensor(Writer& w, const std::string& name, std::vector<int64_t> ne, TensorType type) {
    int64_t n = 1;
    for (int64_t d : ne) n *= d;
    const auto traits = *typeTraits(static_cast<uint32_t>(type));
    w.addRawTensor(name, std::move(ne), static_cast<uint32_t>(type),
                   pattern(static_cast<size_t>(n) / traits.blockElements * traits.blockBytes));
}

} // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
        return 2;
    }
    const std::string dir = argv[1];
    try {
        {
            Writer w;
            w.set("u8", MetaValue::uint8(1));
            w.set("i8", MetaValue::int8(-1));
            w.set("u16", MetaValue::uint16(2));
            w.set("i16", MetaValue::int16(-2));
            w.set("u32", MetaValue::uint32(3));
            w.set("i32", MetaValue::int32(-3));
            w.set("u64", MetaValue::uint64(4));
            w.set("i64", MetaValue::int64(-4));
            w.set("f32", MetaValue::float32(0.5f));
            w.set("f64", MetaValue::float64(0.25));
            w.set("bool", MetaValue::boolean(true));
            w.set("str", MetaValue::string("gemma4"));
            w.set("strs", MetaValue::stringArray({"<pad>", "<eos>", "<bos>", "▁a"}));
            w.set("ints", MetaValue::int32Array({1, 2, 3}));
            w.set("floats", MetaValue::float32Array({0.0f, -1.0f}));
            w.set("bools", MetaValue::boolArray({true, false}));
            w.set("nested",
                  MetaValue::array(ValueType::Array,
                                   {MetaValue::int32Array({1}), MetaValue::stringArray({"x"}),
                                    MetaValue::array(ValueType::Array, {MetaValue::boolArray({false})})}));
            w.write(dir + "/metadata-every-type.gguf");
        }
        {
            Writer w;
            w.set("general.architecture", MetaValue::string("gemma4"));
            w.addTensor("f32", {8, 2}, static_cast<uint32_t>(TensorType::F32), ramp(16));
            w.addTensor("f16", {8, 2}, static_cast<uint32_t>(TensorType::F16), ramp(16));
            w.addTensor("bf16", {4, 2, 2}, static_cast<uint32_t>(TensorType::BF16), ramp(16));
            w.addTensor("q8_0", {32, 2}, static_cast<uint32_t>(TensorType::Q8_0), ramp(64));
            w.addTensor("q4_0", {64, 1, 1, 1}, static_cast<uint32_t>(TensorType::Q4_0), ramp(64));
            w.write(dir + "/tensors-basic.gguf");
        }
        {
            Writer w;
            w.setAlignment(64);
            rawTensor(w, "q4_k", {256}, TensorType::Q4_K);
            rawTensor(w, "q5_k", {256}, TensorType::Q5_K);
            rawTensor(w, "q6_k", {256}, TensorType::Q6_K);
            rawTensor(w, "i32", {5}, TensorType::I32);
            w.write(dir + "/tensors-kquants-align64.gguf");
        }
        {
            Writer w(2);
            w.setAlignment(1);
            w.set("tokenizer.ggml.model", MetaValue::string("gemma4"));
            w.addTensor("token_embd.weight", {32, 3}, static_cast<uint32_t>(TensorType::Q8_0), ramp(96));
            w.write(dir + "/version2-align1.gguf");
        }
        {
            Writer w;
            w.write(dir + "/empty.gguf");
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 1;
    }
    return 0;
}
