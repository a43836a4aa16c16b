// Cutting a byte stream into whole UTF-8 characters: token pieces can end in the middle of a
// character (byte-fallback tokens carry one byte each), and a streaming consumer must never
// receive half of one.
#pragma once

#include <string>
#include <string_view>

namespace ocelle::engine {

class Utf8Stream {
public:
    // Appends bytes and returns the longest prefix of everything pending that ends on a character
    // boundary; an incomplete character at the end waits for the next call. Bytes that can never
    // start or continue a valid character are passed through (as U+FFFD) rather than held forever.
    std::string push(std::string_view bytes);

    // Returns what is still pending; an incomplete final character becomes U+FFFD.
    std::string finish();

    bool pending() const { return !pending_.empty(); }

private:
    std::string pending_;
};

} // namespace ocelle::engine
