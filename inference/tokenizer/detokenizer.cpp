#include "tokenizer/detokenizer.h"

namespace ocelle::tokenizer {

size_t completeUtf8Prefix(std::string_view bytes) {
    // Look back at most three bytes for the lead byte of a character that is still missing bytes.
    const size_t n = bytes.size();
    for (size_t back = 1; back <= 3 && back <= n; ++back) {
        const auto c = static_cast<uint8_t>(bytes[n - back]);
        if ((c & 0xC0) == 0x80) continue; // continuation byte: keep looking for its lead
        size_t need = 0;
        if ((c & 0xE0) == 0xC0) {
            need = 2;
        } else if ((c & 0xF0) == 0xE0) {
            need = 3;
        } else if ((c & 0xF8) == 0xF0) {
            need = 4;
        }
        // ASCII or an invalid lead byte ends nothing unfinished; a lead byte whose character
        // already has all its bytes neither.
        return need > back ? n - back : n;
    }
    return n; // only continuation bytes at the end: no lead byte could still complete them
}

StreamingDetokenizer::StreamingDetokenizer(const Vocab& vocab, DetokenizeOptions options)
    : vocab_(vocab), options_(options) {
    options_.cleanSpaces = false;
}

std::string StreamingDetokenizer::push(TokenId id) {
    const bool first = first_;
    first_ = false;
    if (first && options_.removeSpecial && id == vocab_.bos()) return {};
    pending_ += vocab_.piece(id, options_.unparseSpecial);
    const size_t complete = completeUtf8Prefix(pending_);
    std::string out = pending_.substr(0, complete);
    pending_.erase(0, complete);
    return out;
}

std::string StreamingDetokenizer::flush() {
    std::string out;
    out.swap(pending_);
    return out;
}

void StreamingDetokenizer::reset() {
    pending_.clear();
    first_ = true;
}

} // namespace ocelle::tokenizer
