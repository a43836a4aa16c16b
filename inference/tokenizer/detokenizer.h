// Turning generated tokens back into text one token at a time.
#pragma once

#include "tokenizer/vocab.h"

#include <string>
#include <string_view>

namespace ocelle::tokenizer {

// Length of the longest prefix of `bytes` that does not end inside an unfinished UTF-8 character.
// Bytes that can never become part of a valid character are not held back.
size_t completeUtf8Prefix(std::string_view bytes);

// Fed one token at a time, returns only whole UTF-8 characters: the bytes of a character spread
// over several byte-fallback tokens come out together once the last one arrives. flush() returns
// whatever is still held at the end of the stream as raw bytes, as llama.cpp does for a truncated
// sequence. Joined output equals Vocab::detokenize with cleanSpaces off.
class StreamingDetokenizer {
public:
    StreamingDetokenizer(const Vocab& vocab, DetokenizeOptions options = {});

    std::string push(TokenId id);
    std::string flush();
    // Starts a new stream (the next token is "first" again for removeSpecial).
    void reset();
    bool holding() const { return !pending_.empty(); }

private:
    const Vocab& vocab_;
    DetokenizeOptions options_;
    std::string pending_;
    bool first_ = true;
};

} // namespace ocelle::tokenizer
