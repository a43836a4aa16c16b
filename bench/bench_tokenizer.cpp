// bench_tokenizer [VOCAB.gguf [CASES.jsonl]]: how fast the Gemma 4 tokenizer loads, tokenizes and
// detokenizes ~1 MB of mixed-language text built from the fixture cases (shuffled, repeated).
#include "chat/json.h"
#include "tokenizer/detokenizer.h"
#include "tokenizer/vocab.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

using namespace ocelle;

namespace {

double wallMs() {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

double cpuMs() {
    timespec t{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_nsec) / 1e6;
}

struct Timing {
    double wall, cpu;
};

// Best of `repeats` runs (the machine may be shared, so the minimum is the honest number).
Timing best(int repeats, const std::function<void()>& work) {
    Timing result{1e300, 1e300};
    for (int i = 0; i < repeats; ++i) {
        const double w0 = wallMs(), c0 = cpuMs();
        work();
        result.wall = std::min(result.wall, wallMs() - w0);
        result.cpu = std::min(result.cpu, cpuMs() - c0);
    }
    return result;
}

std::string buildText(const std::string& casesPath, size_t targetBytes) {
    std::ifstream in(casesPath);
    if (!in) throw std::runtime_error(casesPath + ": cannot open");
    std::vector<std::string> texts;
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty()) continue;
        const auto o = chat::json::parse(line);
        if (const auto* text = o.find("text"); text && text->isString() && !text->asString().empty())
            texts.push_back(text->asString());
    }
    if (texts.empty()) throw std::runtime_error(casesPath + ": no texts");
    std::mt19937 rng(42);
    std::string out;
    while (out.size() < targetBytes) {
        std::shuffle(texts.begin(), texts.end(), rng);
        for (const auto& t : texts) {
            out += t;
            out += (rng() % 3 == 0) ? "\n" : " ";
        }
    }
    return out;
}

} // namespace

int main(int argc, char** argv) {
    const std::string vocabPath =
        argc > 1 ? argv[1] : OCELLE_FIXTURES_DIR "/tokenizer/ggml-vocab-gemma-4.gguf";
    const std::string casesPath = argc > 2 ? argv[2] : OCELLE_FIXTURES_DIR "/tokenizer/cases.jsonl";
    try {
        std::unique_ptr<tokenizer::Vocab> vocab;
        const Timing load = best(3, [&] { vocab = tokenizer::Vocab::load(vocabPath); });
        const std::string text = buildText(casesPath, 1 << 20);
        const double mb = static_cast<double>(text.size()) / (1 << 20);

        std::vector<tokenizer::TokenId> ids;
        const Timing plain = best(3, [&] { ids = vocab->tokenize(text, true, false); });
        const size_t tokens = ids.size();
        const Timing special = best(3, [&] { ids = vocab->tokenize(text, true, true); });
        std::string back;
        const Timing detok = best(3, [&] { back = vocab->detokenize(ids); });
        size_t streamed = 0;
        const Timing stream = best(3, [&] {
            tokenizer::StreamingDetokenizer s(*vocab);
            streamed = 0;
            for (auto id : ids) streamed += s.push(id).size();
            streamed += s.flush().size();
        });

        std::printf("Gemma 4 tokenizer: %s\n", vocabPath.c_str());
        std::printf("text: %zu bytes from %s, %zu tokens (%.2f bytes/token)\n\n", text.size(),
                    casesPath.c_str(), tokens,
                    static_cast<double>(text.size()) / static_cast<double>(tokens));
        std::printf("%-34s %10s %10s %10s %14s\n", "operation (best of 3)", "wall ms", "cpu ms", "MB/s",
                    "tokens/s");
        auto row = [&](const char* name, Timing t, bool rates) {
            if (rates) {
                std::printf("%-34s %10.1f %10.1f %10.2f %14.0f\n", name, t.wall, t.cpu, mb / (t.cpu / 1e3),
                            static_cast<double>(tokens) / (t.cpu / 1e3));
            } else {
                std::printf("%-34s %10.1f %10.1f %10s %14s\n", name, t.wall, t.cpu, "-", "-");
            }
        };
        row("load vocabulary (GGUF + merges)", load, false);
        row("tokenize, parse_special=false", plain, true);
        row("tokenize, parse_special=true", special, true);
        row("detokenize (whole)", detok, true);
        row("detokenize (streaming)", stream, true);
        std::printf("\n(rates use CPU time; %zu vocabulary entries, %zu merges)\n", vocab->size(),
                    vocab->mergeCount());
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_tokenizer: %s\n", e.what());
        return 1;
    }
}
