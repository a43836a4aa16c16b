// `ocelle-cli run`: generate from a prompt on the command line, streaming as it goes.
#include "backend_option.h"
#include "command.h"

#include "chat/chat_format.h"
#include "chat/json.h"
#include "chat/output_parser.h"
#include "engine/engine.h"
#include "engine/media_prompt.h"
#include "gguf/gguf.h"
#include "model/hparams.h"
#include "tokenizer/vocab.h"
#include "vision/vision_encoder.h" // ImageAttentionPolicy, also without media support

#include <atomic>
#include <csignal>
#include <cstdio>
#include <optional>
#include <random>
#include <sstream>

#ifdef OCELLE_CLI_HAVE_MEDIA
#include "media/media_encoding.h"
#include "media/pdf_document.h"
#endif

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
    "  --budget B            soft tokens per image or PDF page: 70, 140, 280, 560, 1120 (default\n"
    "                        280 for images, 1120 for PDF pages)\n"
    "  --pdf FILE            a PDF document: each page an image at the budget, after the text\n"
    "                        \"Page N of M:\" (repeatable; needs --mmproj); pages that do not fit in\n"
    "                        the context are left out and stderr says which\n"
    "  --pages A-B           only these pages of the PDFs (1-based, e.g. 3-7 or 4)\n"
    "  --video FILE          a video: frames sampled uniformly, each at budget 70 after its mm:ss\n"
    "                        time (repeatable; needs --mmproj); progress goes to stderr\n"
    "  --frames N            frames per video (default 32; fewer when the video has fewer)\n"
    "  --fps R               sample R frames per second instead (at most 1024 frames)\n"
    "  --frame-at S          only the frame shown at S seconds\n"
    "  --image-attention P   hf (default): image tokens causal on E2B/E4B, bidirectional within\n"
    "                        an image on 26B/31B sliding layers; llama: llama.cpp's rule\n"
    "  --mmproj PATH         the mmproj GGUF with the vision/audio encoders (for --image, --pdf,\n"
    "                        --video, --audio)\n"
    "  --print-prompt        write the rendered prompt (control tokens spelled out) to stderr\n"
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

// The media flags of `run`.
struct MediaRequest {
    std::optional<std::string> mmproj;
    std::vector<std::string> images, pdfs, videos, audio;
    int imageBudget = 280;
    int pdfBudget = 1120;
    int firstPage = 0, lastPage = -1; // 0-based; -1: the last page
    int frames = 32;
    double framesPerSecond = 0;
    std::optional<double> frameAt;
    bool any() const { return !images.empty() || !pdfs.empty() || !videos.empty() || !audio.empty(); }
};

MediaRequest parseMediaRequest(const Args& args, bool raw) {
    MediaRequest m;
    m.mmproj = args.value("--mmproj");
    m.images = args.values("--image");
    m.pdfs = args.values("--pdf");
    m.videos = args.values("--video");
    m.audio = args.values("--audio");
    for (const auto& [flag, files] : {std::pair{"--image", &m.images}, std::pair{"--pdf", &m.pdfs},
                                      std::pair{"--video", &m.videos}, std::pair{"--audio", &m.audio}}) {
        if (files->empty()) continue;
        if (raw) throw UsageError(std::string(flag) + " needs the chat format (not --raw or --ids)");
        if (!m.mmproj) throw UsageError(std::string(flag) + " needs --mmproj");
    }
    auto budgetOf = [&](long long fallback) {
        const long long budget = args.integer("--budget", fallback);
        if (budget != 70 && budget != 140 && budget != 280 && budget != 560 && budget != 1120)
            throw UsageError("--budget must be one of 70, 140, 280, 560, 1120");
        return int(budget);
    };
    m.imageBudget = budgetOf(280);
    m.pdfBudget = budgetOf(1120);
    if (auto pages = args.value("--pages")) {
        if (m.pdfs.empty()) throw UsageError("--pages needs --pdf");
        int first = 0, last = 0;
        char dash = 0, extra = 0;
        const int read = std::sscanf(pages->c_str(), "%d%c%d%c", &first, &dash, &last, &extra);
        if (read == 1) last = first;
        if (!((read == 1) || (read == 3 && dash == '-')) || first < 1 || last < first)
            throw UsageError("--pages expects a page or a range of pages counted from 1, e.g. 3 or 3-7");
        m.firstPage = first - 1;
        m.lastPage = last - 1;
    }
    const bool videoOption = args.value("--frames") || args.value("--fps") || args.value("--frame-at");
    if (videoOption && m.videos.empty()) throw UsageError("--frames, --fps and --frame-at need --video");
    if (int(args.value("--frames").has_value()) + int(args.value("--fps").has_value()) +
            int(args.value("--frame-at").has_value()) >
        1)
        throw UsageError("give only one of --frames, --fps and --frame-at");
    const long long frames = args.integer("--frames", 32);
    if (frames < 1 || frames > 1024) throw UsageError("--frames must be between 1 and 1024");
    m.frames = int(frames);
    m.framesPerSecond = args.number("--fps", 0.0);
    if (args.value("--fps") && !(m.framesPerSecond > 0 && m.framesPerSecond <= 120))
        throw UsageError("--fps must be above 0 and at most 120");
    if (args.value("--frame-at")) {
        m.frameAt = args.number("--frame-at", 0.0);
        if (!(*m.frameAt >= 0)) throw UsageError("--frame-at must be a time in seconds, 0 or more");
    }
    return m;
}

#ifdef OCELLE_CLI_HAVE_MEDIA
struct MediaInputs {
    std::unique_ptr<vision::VisionEncoder> vision;
    std::unique_ptr<audio::AudioEncoder> audio;
    std::vector<std::unique_ptr<media::PdfDocument>> pdfs;
    bool imagesBidirectional = false;
};

MediaInputs openMediaInputs(const MediaRequest& m, const std::string& modelPath,
                            vision::ImageAttentionPolicy attention, const engine::LoadOptions& backend) {
    MediaInputs inputs;
    if (!m.any()) return inputs;
    const auto text = model::HyperParams::fromFile(*gguf::File::open(modelPath));
    if (!m.audio.empty()) {
        inputs.audio = engine::loadAudioEncoder(*m.mmproj, backend);
        inputs.audio->checkCompatible(text, modelPath);
    }
    if (!m.images.empty() || !m.pdfs.empty() || !m.videos.empty()) {
        inputs.vision = engine::loadVisionEncoder(*m.mmproj, backend);
        inputs.vision->checkCompatible(text, modelPath);
        inputs.imagesBidirectional = vision::imageTokensBidirectional(attention, text);
    }
    for (const std::string& file : m.pdfs) inputs.pdfs.push_back(std::make_unique<media::PdfDocument>(file));
    for (const std::string& file : m.videos) (void)media::VideoReader(file); // audio-only, damaged, ...
    return inputs;
}

// Progress on one stderr line, rewritten in place.
media::VideoProgress progressLine(const std::string& file, const char* what) {
    return [file, what](int done, int total) {
        std::fprintf(stderr, "\r%s: %d/%d %s encoded", file.c_str(), done, total, what);
        std::fflush(stderr);
        return true;
    };
}

// Puts the media before the user's text, in the order images, PDF pages, videos, audio. PDF pages
// go in last, fitted into what `tokenLimit` leaves after everything else.
void addMediaParts(MediaInputs& inputs, const MediaRequest& m, const chat::ChatFormat& format,
                   chat::Conversation& conversation, int tokenLimit) {
    if (!m.any()) return;
    std::vector<chat::Part>& parts = conversation.messages.back().content;
    std::vector<chat::Part> before, after;
    for (const std::string& file : m.images)
        before.push_back(media::encodeImagePart(*inputs.vision, file, m.imageBudget));
    for (const std::string& file : m.videos) {
        if (m.frameAt) {
            after.push_back(media::encodeVideoFramePart(*inputs.vision, file, *m.frameAt));
        } else {
            media::FrameSampling sampling;
            sampling.frames = m.frames;
            sampling.framesPerSecond = m.framesPerSecond;
            after.push_back(
                media::encodeVideoPart(*inputs.vision, file, sampling, progressLine(file, "frames")));
            std::fprintf(stderr, "\n"); // ends the progress line
        }
    }
    for (const std::string& file : m.audio) after.push_back(media::encodeAudioPart(*inputs.audio, file));
    parts.insert(parts.begin(), after.begin(), after.end());
    parts.insert(parts.begin(), before.begin(), before.end());
    std::size_t pdfAt = before.size(); // after the images, in the order given
    for (const auto& document : inputs.pdfs) {
        const int used = int(format.render(conversation).tokens.size());
        // A range running past the end means "to the end"; one starting past it is an error.
        const int count = document->pageCount();
        const int lastPage =
            m.lastPage < 0 || m.firstPage >= count ? m.lastPage : std::min(m.lastPage, count - 1);
        const media::PdfPageSelection selection =
            media::selectPdfPages(*document, m.pdfBudget, tokenLimit - used, m.firstPage, lastPage);
        if (!selection.message.empty()) std::fprintf(stderr, "%s\n", selection.message.c_str());
        std::vector<chat::Part> pages = media::encodePdfPages(
            *inputs.vision, *document, selection, m.pdfBudget, progressLine(document->path(), "pages"));
        std::fprintf(stderr, "\n");
        parts.insert(parts.begin() + std::ptrdiff_t(pdfAt), pages.begin(), pages.end());
        pdfAt += pages.size();
    }
}
#else
struct MediaInputs {
    bool imagesBidirectional = false;
};
MediaInputs openMediaInputs(const MediaRequest& m, const std::string&, vision::ImageAttentionPolicy,
                            const engine::LoadOptions&) {
    if (m.any())
        throw std::runtime_error(
            "this ocelle-cli was built without media support (OCELLE_BUILD_APP=OFF), so it "
            "cannot read images, PDFs, videos or audio");
    return {};
}
void addMediaParts(MediaInputs&, const MediaRequest&, const chat::ChatFormat&, chat::Conversation&, int) {}
#endif

int runGenerate(const std::vector<std::string>& argv) {
    Args args(argv,
              {"--model",
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
               "--image-attention",
               "--pdf",
               "--pages",
               "--video",
               "--frames",
               "--fps",
               "--frame-at"},
              {"--think", "--raw", "--json", "--print-prompt"});
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
    const MediaRequest media = parseMediaRequest(args, raw);
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

    // The encoders first (on the text model's backend): an mmproj without the tower needed, or of
    // another width, fails before the model loads; so do media files that cannot be opened.
    loadOptions.threads = int(threads);
    announceBackend(loadOptions);
    MediaInputs inputs = openMediaInputs(media, path, *imageAttention, loadOptions);
    auto model = engine::Model::load(path, loadOptions);
    const tokenizer::Vocab& vocab = *model->vocab();
    engine::SessionOptions sessionOptions;
    sessionOptions.contextLength = int(ctx);
    sessionOptions.kvCacheType = kv == "f16" ? engine::KvCacheType::F16 : engine::KvCacheType::F32;
    auto session = model->createSession(sessionOptions);

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
        conversation.messages.push_back({"user", {chat::Part::makeText(*args.value("--prompt"))}, {}, {}});
        conversation.thinking = args.flag("--think");
        // What the answer may need stays free when PDF pages are fitted into the context.
        const int contextLength = session->contextLength();
        const int answerReserve =
            maxTokens > 0 ? int(std::min<long long>(maxTokens, contextLength / 2)) : 256;
        const chat::ChatFormat format(vocab);
        addMediaParts(inputs, media, format, conversation, contextLength - answerReserve);
        if (args.flag("--print-prompt"))
            std::fprintf(stderr, "%s\n", format.renderText(conversation).c_str());
        prompt = engine::promptFromConversation(format, conversation, model->embeddingLength(),
                                                inputs.imagesBidirectional);
    }

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
