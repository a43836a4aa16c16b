// `ocelle-cli detokenize --model PATH --ids "ID ID ..."`: the text of token ids, written exactly
// (no newline added).
#include "command.h"

#include "tokenizer/vocab.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace ocelle::cli {
namespace {

std::vector<tokenizer::TokenId> parseIds(const std::string& text, size_t vocabSize) {
    std::vector<tokenizer::TokenId> ids;
    size_t i = 0;
    while (i < text.size()) {
        while (i < text.size() && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == ','))
            ++i;
        if (i >= text.size()) break;
        size_t end = i;
        while (end < text.size() && text[end] != ' ' && text[end] != '\t' && text[end] != '\n' &&
               text[end] != ',')
            ++end;
        const std::string word = text.substr(i, end - i);
        char* stop = nullptr;
        errno = 0;
        const long long id = std::strtoll(word.c_str(), &stop, 10);
        if (*stop != '\0' || errno == ERANGE) throw UsageError("--ids: '" + word + "' is not a token id");
        if (id < 0 || static_cast<unsigned long long>(id) >= vocabSize)
            throw UsageError("--ids: " + word + " is outside the vocabulary (0.." +
                             std::to_string(vocabSize - 1) + ")");
        ids.push_back(static_cast<tokenizer::TokenId>(id));
        i = end;
    }
    return ids;
}

int runDetokenize(const std::vector<std::string>& argv) {
    Args args(argv, {"--model", "--ids"}, {"--remove-bos", "--special", "--no-clean"});
    if (!args.positionals().empty()) throw UsageError("unexpected argument '" + args.positionals()[0] + "'");
    const std::string model = args.require("--model");
    const std::string idText = args.require("--ids");
    const auto vocab = tokenizer::Vocab::load(model);
    tokenizer::DetokenizeOptions options;
    options.removeSpecial = args.flag("--remove-bos");
    options.unparseSpecial = args.flag("--special");
    options.cleanSpaces = !args.flag("--no-clean");
    const std::string text = vocab->detokenize(parseIds(idText, vocab->size()), options);
    std::fwrite(text.data(), 1, text.size(), stdout);
    return 0;
}

} // namespace

OCELLE_CLI_COMMAND(
    detokenize, "detokenize", "print the text of token ids",
    "Usage: ocelle-cli detokenize --model PATH --ids \"ID ID ...\" [--remove-bos] [--special]\n"
    "                             [--no-clean]\n\n"
    "Prints the text of the ids exactly, without adding a newline (as llama_detokenize).\n\n"
    "  --model PATH    a Gemma 4 GGUF (a model or a vocabulary-only file)\n"
    "  --ids LIST      token ids separated by spaces or commas\n"
    "  --remove-bos    drop a leading <bos>\n"
    "  --special       write control tokens such as <|turn> as text (default: dropped)\n"
    "  --no-clean      skip llama.cpp's space clean-up (\" .\" -> \".\")",
    runDetokenize);

} // namespace ocelle::cli
