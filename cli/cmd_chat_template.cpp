// `ocelle-cli chat-template --model PATH --json FILE [--ids]`: the Gemma 4 prompt for a conversation
// given as OpenAI-style JSON, so the format can be inspected.
#include "command.h"

#include "chat/chat_format.h"
#include "chat/json.h"
#include "tokenizer/vocab.h"

#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <string>

namespace ocelle::cli {
namespace {

std::string readAll(const std::string& path) {
    if (path == "-")
        return std::string(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error(path + ": cannot open");
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) throw std::runtime_error(path + ": read error");
    return text.str();
}

int runChatTemplate(const std::vector<std::string>& argv) {
    Args args(argv, {"--model", "--json", "--image-tokens", "--audio-tokens", "--frame-tokens"}, {"--ids"});
    if (!args.positionals().empty()) throw UsageError("unexpected argument '" + args.positionals()[0] + "'");
    const std::string model = args.require("--model");
    const std::string jsonPath = args.require("--json");
    chat::MediaDefaults defaults;
    auto count = [&](const char* name, int fallback) {
        const long long n = args.integer(name, fallback);
        if (n < 1 || n > 1000000) throw UsageError(std::string(name) + " must be from 1 to 1000000");
        return static_cast<int>(n);
    };
    defaults.imageSoftTokens = count("--image-tokens", defaults.imageSoftTokens);
    defaults.audioSoftTokens = count("--audio-tokens", defaults.audioSoftTokens);
    defaults.videoFrameSoftTokens = count("--frame-tokens", defaults.videoFrameSoftTokens);

    const std::string text = readAll(jsonPath);
    chat::Conversation conversation;
    try {
        conversation = chat::conversationFromJson(chat::json::parse(text), defaults);
    } catch (const std::exception& e) {
        throw std::runtime_error(jsonPath + ": " + e.what());
    }
    const auto vocab = tokenizer::Vocab::load(model);
    const chat::ChatFormat format(*vocab);
    std::string out;
    if (args.flag("--ids")) {
        const auto prompt = format.render(conversation);
        for (size_t i = 0; i < prompt.tokens.size(); ++i) {
            if (i) out += ' ';
            out += std::to_string(prompt.tokens[i]);
        }
        out += '\n';
    } else {
        out = format.renderText(conversation);
    }
    std::fwrite(out.data(), 1, out.size(), stdout);
    return 0;
}

} // namespace

OCELLE_CLI_COMMAND(
    chat_template, "chat-template", "print the Gemma 4 prompt for a JSON conversation",
    "Usage: ocelle-cli chat-template --model PATH --json FILE [--ids]\n"
    "                                [--image-tokens N] [--audio-tokens N] [--frame-tokens N]\n\n"
    "Renders an OpenAI-style conversation into Gemma 4's prompt and prints it exactly\n"
    "(control tokens written out, no newline added), or with --ids its token ids on one line.\n\n"
    "FILE ('-' for standard input) holds {\"messages\": [...], \"tools\": [...], \"thinking\": true,\n"
    "\"add_generation_prompt\": true} or just the messages array. Roles: system, user,\n"
    "assistant, tool; content is a string or a list of parts: {\"type\": \"text\", \"text\": ...},\n"
    "{\"type\": \"image\"}, {\"type\": \"audio\"}, {\"type\": \"video\", \"timestamps\": [0, 2]}; media\n"
    "parts may set \"soft_tokens\" (defaults below).\n\n"
    "  --model PATH        a Gemma 4 GGUF (a model or a vocabulary-only file)\n"
    "  --json FILE         the conversation\n"
    "  --ids               print token ids instead of text\n"
    "  --image-tokens N    soft tokens per image without \"soft_tokens\" (256)\n"
    "  --audio-tokens N    soft tokens per audio clip (25, one second)\n"
    "  --frame-tokens N    soft tokens per video frame (64)",
    runChatTemplate);

} // namespace ocelle::cli
