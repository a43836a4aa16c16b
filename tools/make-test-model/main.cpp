// make-test-model: writes a random-weight Gemma 4 GGUF with chosen shapes and weight types.
#include "test_model.h"

#include <charconv>
#include <cstdio>
#include <exception>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace {

const char* const usage =
    "usage: make-test-model --style e|moe|dense31 --tokenizer VOCAB.gguf --output OUT.gguf [options]\n"
    "  --type f32|q8_0|q4_0|mixed   weight storage (default f32)\n"
    "  --seed N                     random seed (default 1)\n"
    "  --hidden N --layers N --heads N --kv-heads N --kv-heads-full N\n"
    "  --head-dim N --head-dim-full N --window N --full-every N --rope-pairs-full N --ffn N\n"
    "  --shared-kv N --per-layer-dim N          (E style)\n"
    "  --experts N --experts-used N --expert-ffn N (MoE style)\n"
    "  --vocab N                    keep only the tokenizer's first N tokens (default: all)\n"
    "  --dequantized 1              store F32 tensors holding exactly the values --type would store\n"
    "Unset dimensions take the style's defaults (shapes unlike the fixture models').\n";

struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

int parseInt(std::string_view name, std::string_view text) {
    int value = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc() || end != text.data() + text.size())
        throw UsageError("--" + std::string(name) + " expects an integer, got '" + std::string(text) + "'");
    return value;
}

int run(int argc, char** argv) {
    std::map<std::string, std::string, std::less<>> options;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--help" || arg == "-h") {
            std::fputs(usage, stdout);
            return 0;
        }
        if (!arg.starts_with("--") || i + 1 >= argc)
            throw UsageError("expected --option value, got '" + std::string(arg) + "'");
        options[std::string(arg.substr(2))] = argv[++i];
    }
    auto take = [&](const std::string& name) -> std::optional<std::string> {
        auto it = options.find(name);
        if (it == options.end()) return std::nullopt;
        std::string value = it->second;
        options.erase(it);
        return value;
    };
    auto required = [&](const std::string& name) {
        auto value = take(name);
        if (!value) throw UsageError("missing --" + name);
        return *value;
    };

    using ocelle::testmodel::Style;
    using ocelle::testmodel::Weights;
    const std::string styleText = required("style");
    Style style;
    if (styleText == "e")
        style = Style::E;
    else if (styleText == "moe")
        style = Style::Moe;
    else if (styleText == "dense31")
        style = Style::Dense31;
    else
        throw UsageError("--style must be e, moe or dense31, not '" + styleText + "'");
    ocelle::testmodel::Spec spec = ocelle::testmodel::defaultSpec(style);

    const std::string typeText = take("type").value_or("f32");
    if (typeText == "f32")
        spec.weights = Weights::F32;
    else if (typeText == "q8_0")
        spec.weights = Weights::Q8_0;
    else if (typeText == "q4_0")
        spec.weights = Weights::Q4_0;
    else if (typeText == "mixed")
        spec.weights = Weights::Mixed;
    else
        throw UsageError("--type must be f32, q8_0, q4_0 or mixed, not '" + typeText + "'");

    const std::string tokenizer = required("tokenizer");
    const std::string output = required("output");
    if (auto seed = take("seed")) spec.seed = static_cast<uint64_t>(parseInt("seed", *seed));
    const std::pair<const char*, int ocelle::testmodel::Spec::*> dimensions[] = {
        {"hidden", &ocelle::testmodel::Spec::hidden},
        {"layers", &ocelle::testmodel::Spec::layers},
        {"heads", &ocelle::testmodel::Spec::heads},
        {"kv-heads", &ocelle::testmodel::Spec::kvHeadsSliding},
        {"kv-heads-full", &ocelle::testmodel::Spec::kvHeadsFull},
        {"head-dim", &ocelle::testmodel::Spec::headDimSliding},
        {"head-dim-full", &ocelle::testmodel::Spec::headDimFull},
        {"window", &ocelle::testmodel::Spec::window},
        {"full-every", &ocelle::testmodel::Spec::fullEvery},
        {"rope-pairs-full", &ocelle::testmodel::Spec::ropeRotatedPairsFull},
        {"ffn", &ocelle::testmodel::Spec::ffn},
        {"shared-kv", &ocelle::testmodel::Spec::sharedKvLayers},
        {"per-layer-dim", &ocelle::testmodel::Spec::perLayerDim},
        {"experts", &ocelle::testmodel::Spec::experts},
        {"experts-used", &ocelle::testmodel::Spec::expertsUsed},
        {"expert-ffn", &ocelle::testmodel::Spec::expertFfn},
        {"vocab", &ocelle::testmodel::Spec::vocab},
    };
    for (const auto& [name, field] : dimensions)
        if (auto value = take(name)) spec.*field = parseInt(name, *value);
    if (auto dequantized = take("dequantized"))
        spec.dequantizedF32 = parseInt("dequantized", *dequantized) != 0;
    if (!options.empty()) throw UsageError("unknown option --" + options.begin()->first);

    ocelle::testmodel::validate(spec);
    ocelle::testmodel::writeTestModel(spec, tokenizer, output);
    std::printf("wrote %s (%s, %s weights)\n", output.c_str(), ocelle::testmodel::styleName(spec.style),
                ocelle::testmodel::weightsName(spec.weights));
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (const UsageError& e) {
        std::fprintf(stderr, "make-test-model: %s\n%s", e.what(), usage);
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "make-test-model: %s\n", e.what());
        return 1;
    }
}
