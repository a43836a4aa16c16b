#include "engine/utf8_stream.h"

#include <cstdint>

namespace ocelle::engine {

namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD"; // U+FFFD

// Length of the character a lead byte starts, 0 when the byte cannot start one.
size_t sequenceLength(uint8_t lead) {
    if (lead < 0x80) return 1;
    if (lead >= 0xC2 && lead <= 0xDF) return 2;
    if (lead >= 0xE0 && lead <= 0xEF) return 3;
    if (lead >= 0xF0 && lead <= 0xF4) return 4;
    return 0;
}

// Whether `byte` may follow `lead` at offset `index` (1..3) of a character; the second byte carries
// the range limits that exclude overlong forms, surrogates and code points above U+10FFFF.
bool validContinuation(uint8_t lead, size_t index, uint8_t byte) {
    if (index == 1) {
        switch (lead) {
        case 0xE0:
            return byte >= 0xA0 && byte <= 0xBF;
        case 0xED:
            return byte >= 0x80 && byte <= 0x9F;
        case 0xF0:
            return byte >= 0x90 && byte <= 0xBF;
        case 0xF4:
            return byte >= 0x80 && byte <= 0x8F;
        default:
            break;
        }
    }
    return (byte & 0xC0) == 0x80;
}

} // namespace

std::string Utf8Stream::push(std::string_view bytes) {
    pending_.append(bytes);
    std::string out;
    size_t i = 0;
    const size_t n = pending_.size();
    while (i < n) {
        const auto lead = uint8_t(pending_[i]);
        const size_t length = sequenceLength(lead);
        if (length == 0) {
            out += kReplacement;
            ++i;
            continue;
        }
        size_t valid = 1;
        while (valid < length && i + valid < n &&
               validContinuation(lead, valid, uint8_t(pending_[i + valid])))
            ++valid;
        if (valid == length) {
            out.append(pending_, i, length);
            i += length;
        } else if (i + valid == n) {
            break; // a correct beginning of a character: wait for the rest
        } else {
            out += kReplacement; // broken character: drop its lead, resynchronise on the next byte
            ++i;
        }
    }
    pending_.erase(0, i);
    return out;
}

std::string Utf8Stream::finish() {
    std::string out = push({});
    if (!pending_.empty()) {
        out += kReplacement;
        pending_.clear();
    }
    return out;
}

} // namespace ocelle::engine
