// `ocelle-cli run`: generate from a prompt on the command line, streaming as it goes.
#include "audio_input.h"
#include "backend_option.h"
#include "command.h"
#include "image_input.h"

#include "chat/chat_format.h"
#include "chat/json.h"
#include "chat/output_parser.h"
#include "engine/engine.h"
#include "gguf/gguf.h"
#include "model/hparams.h"
#include "tokenizer/vocab.h"

#include <atomic>
#include <csignal>
#include <cstdio>
#include <random>
#include <sstream>

namespace ocelle::cli {
namespace {

constexpr const char* kUsage =
    "Usage: ocelle-cli run --model PATH (--prompt TEXT | --ids \"ID ID ...\") [options]\n\n"
    "Generates a reply and streams it: the answer to stdout, the reasoning to stderr.\n\n"
    "  --model PATH          a Gemma 4 GGUF file\n"
    "  --prompt TEXT         the user's message (rendered with the chat format)\n"
    "  --system TEXT         a system prompt\n"
    "  --think               turn thinking on (the reasoning goes to stderr)\n"
    "  --audio FILE          an audio file placed before the prompt's text (repeatable; needs\n"
    "                        --mmproj and an E2B/E4B model; longer than 30 s: 30 s pieces in one span)\n"
    "  --image FILE          an image placed before the prompt's text (repeatable; needs --mmproj)\n"
    "  --budget B            soft tokens per image: 70, 140, 280, 560, 1120 (default 280; 1120\n"
    "                        for documents with small text)\n"
    "  --image-attention P   hf (default): image tokens causal on E2B/E4B, bidirectional within\n"
    "                        an image on 26B/31B sliding layers; llama: llama.cpp's rule\n"
    "  --mmproj PATH         the mmproj GGUF with the vision/audio encoders (for --image, --audio)\n"
    "  --raw                 feed --prompt as it is, without the chat format (control tokens\n"
    "                        such as <|turn> are recognised; <bos> is added unless the text starts\n"
    "                        with it); the whole continuation goes to stdout\n"
    "  --ids \"ID ...\"        feed these token ids as they are (implies --raw)\n"
    "  --temp T              temperature (default 1.0; 0 = greedy)\n"
    "  --top-k K             (default 64; 0 = off)\n"
    "  --top-p P             (default 0.95; 1 = off)\n"
    "  --min-p P             (default 0 = off)\n"
    "  --repeat-penalty R    (default 1 = off)\n"
    "  --presence-penalty P  (default 0 = off)\n"
    "  --seed S              (default: random, reported in the statistics)\n"
    "  --max-tokens N        (default 512; 0 = until a stop token or the end of the context)\n"
    "  --ctx N               context length (default: the model's, at most 8192)\n"
    "  --kv f32|f16          KV cache type (default f32)\n"
    "  --threads N           CPU threads (default: all)\n"
    "  --backend auto|cpu|vulkan  the backend (default auto: Vulkan on a usable GPU, else the CPU;\n"
    "                        the choice and why go to stderr; Vulkan keeps the KV cache in f32)\n"
    "  --device X            Vulkan device index or name substring (lavapipe only when named)\n"
    "  --json                one JSON object per line: {\"id\":..,\"text\":..} per generated token,\n"
    "                        then {\"stats\":{...}} (and the parsed reply in chat mode); id -1\n"
    "                        carries text held back at the end (an incomplete character)\n\n"
    "Ctrl-C stops generation; the statistics are still printed.";

std::atomic<engine::Session*> interruptTarget{nullptr};

extern "C" void onInterrupt(int) {
    if (engine::Session* session = interruptTarget.load()) session->cancel();
}

std::vector<int32_t> parseIds(const std::string& text) {
    std::vector<int32_t> ids;
    std::istringstream in(text);
    std::string word;
    while (in >> word) {
        size_t used = 0;
        long long value = -1;
        try {
            value = std::stoll(word, &used);
        } catch (const std::exception&) {
            used = 0;
        }
        if (used != word.size() || value < 0 || value > INT32_MAX)
            throw UsageError("--ids expects token ids separated by spaces, got '" + word + "'");
        ids.push_back(int32_t(value));
    }
    if (ids.empty()) throw UsageError("--ids is empty");
    return ids;
}

void writeOut(FILE* stream, std::string_view text) {
    if (text.empty()) return;
    std::fwrite(text.data(), 1, text.size(), stream);
    std::fflush(stream);
}

std::string statsJson(const engine::Stats& s, const engine::GenerateResult& r, uint64_t seed) {
    char buffer[1024];
    std::snprintf(
        buffer, sizeof buffer,
        "{\"stop_reason\":\"%s\",\"prompt_tokens\":%d,\"reused_tokens\":%d,\"prefill_tokens\":%d,"
        "\"prefill_seconds\":%.6f,\"prefill_tokens_per_second\":%.3f,\"generated_tokens\":%d,"
        "\"decode_seconds\":%.6f,\"decode_tokens_per_second\":%.3f,\"time_to_first_token_seconds\":%.6f,"
        "\"model_bytes\":%zu,\"session_bytes\":%zu,\"seed\":%llu}",
        engine::stopReasonName(r.reason), s.promptTokens, s.reusedTokens, s.prefillTokens, s.prefillSeconds,
        s.prefillTokensPerSecond(), s.generatedTokens, s.decodeSeconds, s.decodeTokensPerSecond(),
        s.timeToFirstTokenSeconds, s.modelBytes, s.sessionBytes, static_cast<unsigned long long>(seed));
    return buffer;
}

int runGenerate(const std::vector<std::string>& argv) {
    Args args(argv, {"--model",
                     "--prompt",
                     "--system",
                     "--ids",
                     "--temp",
                     "--top-k",
                     "--top-p",
                     "--min-p",
                     "--seed",
                     "--max-tokens",
                     "--backend",
                     "--device",
                     "--ctx",
                     "--kv",
                     "--threads",
                     "--repeat-penalty",
                     "--presence-penalty",
                     "--audio",
                     "--mmproj",
                     "--image",
                     "--budget",
                     "--image-attention"},
              {"--think", "--raw", "--json"});
    if (!args.positionals().empty()) throw UsageError("unexpected argument '" + args.positionals()[0] + "'");
    const std::string path = args.require("--model");
    engine::LoadOptions loadOptions = backendOptions(args);
    const bool hasPrompt = args.value("--prompt").has_value();
    const bool hasIds = args.value("--ids").has_value();
    if (hasPrompt == hasIds) throw UsageError("give exactly one of --prompt and --ids");
    const bool raw = args.flag("--raw") || hasIds;
    if (raw && (args.value("--system") || args.flag("--think")))
        throw UsageError("--system and --think need the chat format (not --raw or --ids)");
    const bool json = args.flag("--json");
    const std::vector<std::string> audioFiles = args.values("--audio");
    if (!audioFiles.empty() && raw) throw UsageError("--audio needs the chat format (not --raw or --ids)");
    if (!audioFiles.empty() && !args.value("--mmproj")) throw UsageError("--audio needs --mmproj");
    const std::vector<std::string> imageFiles = args.values("--image");
    if (!imageFiles.empty() && raw) throw UsageError("--image needs the chat format (not --raw or --ids)");
    if (!imageFiles.empty() && !args.value("--mmproj")) throw UsageError("--image needs --mmproj");
    const long long budget = args.integer("--budget", 280);
    if (budget != 70 && budget != 140 && budget != 280 && budget != 560 && budget != 1120)
        throw UsageError("--budget must be one of 70, 140, 280, 560, 1120");
    const auto imageAttention =
        vision::parseImageAttentionPolicy(args.value("--image-attention").value_or("hf"));
    if (!imageAttention) throw UsageError("--image-attention must be hf or llama");

    engine::GenerateOptions options;
    options.sampling.temperature = float(args.number("--temp", 1.0));
    options.sampling.topK = int(args.integer("--top-k", 64));
    options.sampling.topP = float(args.number("--top-p", 0.95));
    options.sampling.minP = float(args.number("--min-p", 0.0));
    options.sampling.repetitionPenalty = float(args.number("--repeat-penalty", 1.0));
    options.sampling.presencePenalty = float(args.number("--presence-penalty", 0.0));
    const long long seed = args.integer("--seed", -1);
    options.sampling.seed =
        seed >= 0 ? uint64_t(seed) : (uint64_t(std::random_device{}()) << 32 | std::random_device{}());
    if (std::string problem = options.sampling.validate(); !problem.empty()) throw UsageError(problem);
    const long long maxTokens = args.integer("--max-tokens", 512);
    if (maxTokens < 0) throw UsageError("--max-tokens must not be negative");
    options.stop.maxTokens = int(maxTokens);
    const long long ctx = args.integer("--ctx", 0);
    if (ctx < 0 || ctx > INT32_MAX) throw UsageError("--ctx must be a positive number of tokens");
    const std::string kv = args.value("--kv").value_or("f32");
    if (kv != "f32" && kv != "f16") throw UsageError("--kv must be f32 or f16");
    const long long threads = args.integer("--threads", 0);
    if (threads < 0 || threads > 1024) throw UsageError("--threads must be between 1 and 1024");

    // Audio first: a model without an audio encoder is reported before anything is decoded.
    std::vector<EncodedAudio> audioInputs;
    if (!audioFiles.empty()) {
        auto encoder = audio::AudioEncoder::load(*args.value("--mmproj"), int(threads));
        encoder->checkCompatible(model::HyperParams::fromFile(*gguf::File::open(path)), path);
        for (const std::string& file : audioFiles) audioInputs.push_back(encodeAudioFile(*encoder, file));
    }
    // Images likewise: an mmproj without a vision tower or of another width fails before decoding.
    std::vector<EncodedImage> imageInputs;
    bool imagesBidirectional = false;
    if (!imageFiles.empty()) {
        auto encoder = vision::VisionEncoder::load(*args.value("--mmproj"), int(threads));
        const auto text = model::HyperParams::fromFile(*gguf::File::open(path));
        encoder->checkCompatible(text, path);
        imagesBidirectional = vision::imageTokensBidirectional(*imageAttention, text);
        for (const std::string& file : imageFiles)
            imageInputs.push_back(encodeImageFile(*encoder, file, int(budget), ImageSizing::HuggingFace));
    }

    loadOptions.threads = int(threads);
    announceBackend(loadOptions);
    auto model = engine::Model::load(path, loadOptions);
    const tokenizer::Vocab& vocab = *model->vocab();

    engine::Prompt prompt;
    if (hasIds) {
        prompt.ids = parseIds(*args.value("--ids"));
    } else if (raw) {
        const std::string text = *args.value("--prompt");
        const bool startsWithBos = text.rfind(vocab.text(vocab.bos()), 0) == 0;
        prompt.ids = vocab.tokenize(text, !startsWithBos, true);
    } else {
        chat::Conversation conversation;
        if (auto system = args.value("--system"))
            conversation.messages.push_back({"system", {chat::Part::makeText(*system)}, {}, {}});
        std::vector<chat::Part> parts; // images, then audio, then the text
        for (const EncodedImage& image : imageInputs) parts.push_back(chat::Part::image(image.tokens));
        for (const EncodedAudio& a : audioInputs) parts.push_back(chat::Part::audio(a.tokens));
        parts.push_back(chat::Part::makeText(*args.value("--prompt")));
        conversation.messages.push_back({"user", std::move(parts), {}, {}});
        conversation.thinking = args.flag("--think");
        chat::Prompt rendered = chat::ChatFormat(vocab).render(conversation);
        prompt.ids = std::move(rendered.tokens);
        for (const chat::SoftTokenSpan& span : rendered.spans) {
            if (span.kind == chat::MediaKind::Image)
                prompt.softTokens.push_back({int(span.begin), int(span.count),
                                             imageInputs.at(span.part).embeddings, imagesBidirectional});
            else if (span.kind == chat::MediaKind::Audio)
                prompt.softTokens.push_back({int(span.begin), int(span.count),
                                             audioInputs.at(span.part - imageInputs.size()).embeddings});
        }
    }

    engine::SessionOptions sessionOptions;
    sessionOptions.contextLength = int(ctx);
    sessionOptions.kvCacheType = kv == "f16" ? engine::KvCacheType::F16 : engine::KvCacheType::F32;
    auto session = model->createSession(sessionOptions);
    interruptTarget.store(session.get());
    auto previousHandler = std::signal(SIGINT, onInterrupt);

    chat::OutputParser parser;
    auto show = [&](const chat::OutputDelta& delta) {
        writeOut(stderr, delta.reasoning);
        writeOut(stdout, delta.answer);
        for (const chat::ParsedToolCall& call : delta.toolCalls)
            writeOut(stdout, "\n[tool call] " + call.name + " " +
                                 (call.valid ? chat::json::serialize(call.arguments) : call.raw) + "\n");
    };

    engine::GenerateResult result;
    const engine::FeedResult fed = session->feed(prompt);
    if (fed.cancelled) {
        result.reason = engine::StopReason::Cancelled;
    } else {
        result = session->generate(options, [&](const engine::TokenEvent& event) {
            if (json) {
                std::printf("{\"id\":%d,\"text\":%s}\n", event.id, chat::json::quote(event.text).c_str());
                std::fflush(stdout);
            } else if (raw) {
                writeOut(stdout, event.text);
            } else {
                show(parser.push(event.text));
            }
            return true;
        });
    }
    std::signal(SIGINT, previousHandler);
    interruptTarget.store(nullptr);

    const engine::Stats& stats = session->stats();
    if (json) {
        std::string line = "{\"stats\":" + statsJson(stats, result, options.sampling.seed);
        if (!raw) {
            chat::OutputParser reply;
            reply.push(result.text);
            reply.finish();
            line += ",\"reasoning\":" + chat::json::quote(reply.result().reasoning) +
                    ",\"answer\":" + chat::json::quote(reply.result().answer);
        }
        std::printf("%s}\n", line.c_str());
    } else {
        if (!raw) show(parser.finish());
        writeOut(stdout, "\n");
        std::fprintf(stderr,
                     "[%s | prompt %d tokens (%d reused) at %.1f tok/s | %d generated at %.1f tok/s | "
                     "first token after %.3f s | memory %.1f MiB | seed %llu]\n",
                     engine::stopReasonName(result.reason), stats.promptTokens, stats.reusedTokens,
                     stats.prefillTokensPerSecond(), stats.generatedTokens, stats.decodeTokensPerSecond(),
                     stats.timeToFirstTokenSeconds,
                     double(stats.modelBytes + stats.sessionBytes) / (1024.0 * 1024.0),
                     static_cast<unsigned long long>(options.sampling.seed));
    }
    if (result.reason == engine::StopReason::ContextFull)
        std::fprintf(stderr, "%s\n", result.message.c_str());
    return result.reason == engine::StopReason::Cancelled ? 130 : 0;
}

} // namespace

OCELLE_CLI_COMMAND(run, "run", "generate a reply to a prompt, streaming it", kUsage, runGenerate);

} // namespace ocelle::cli
