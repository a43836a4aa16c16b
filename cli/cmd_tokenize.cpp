// `ocelle-cli tokenize --model PATH --text TEXT [--no-bos] [--no-special]`: the token ids of a text,
// on one line separated by single spaces (the format other tools read).
#include "command.h"

#include "tokenizer/vocab.h"

#include <cstdio>
#include <string>

namespace ocelle::cli {
namespace {

int runTokenize(const std::vector<std::string>& argv) {
    Args args(argv, {"--model", "--text"}, {"--no-bos", "--no-special"});
    if (!args.positionals().empty()) throw UsageError("unexpected argument '" + args.positionals()[0] + "'");
    const std::string model = args.require("--model");
    const std::string text = args.require("--text");
    const auto vocab = tokenizer::Vocab::load(model);
    const auto ids = vocab->tokenize(text, !args.flag("--no-bos"), !args.flag("--no-special"));
    std::string line;
    for (size_t i = 0; i < ids.size(); ++i) {
        if (i) line += ' ';
        line += std::to_string(ids[i]);
    }
    line += '\n';
    std::fwrite(line.data(), 1, line.size(), stdout);
    return 0;
}

} // namespace

OCELLE_CLI_COMMAND(tokenize, "tokenize", "print the token ids of a text",
                   "Usage: ocelle-cli tokenize --model PATH --text TEXT [--no-bos] [--no-special]\n\n"
                   "Prints the ids of TEXT under the tokenizer of the GGUF file PATH on one line,\n"
                   "separated by single spaces.\n\n"
                   "  --model PATH    a Gemma 4 GGUF (a model or a vocabulary-only file)\n"
                   "  --text TEXT     the text to tokenize\n"
                   "  --no-bos        do not put <bos> in front\n"
                   "  --no-special    treat control-token text such as <|turn> as plain text",
                   runTokenize);

} // namespace ocelle::cli
