// A TextDecoder built from a function giving each id's bytes (a vocabulary's piece bytes, with
// byte-fallback tokens as single bytes), joined into whole UTF-8 characters.
#pragma once

#include "engine/backend.h"
#include "engine/utf8_stream.h"

#include <functional>
#include <string>

namespace ocelle::engine {

class PieceTextDecoder : public TextDecoder {
public:
    using PieceBytes = std::function<std::string(int32_t id)>;
    explicit PieceTextDecoder(PieceBytes pieceBytes) : pieceBytes_(std::move(pieceBytes)) {}

    std::string push(int32_t id) override { return utf8_.push(pieceBytes_(id)); }
    std::string finish() override { return utf8_.finish(); }

private:
    PieceBytes pieceBytes_;
    Utf8Stream utf8_;
};

} // namespace ocelle::engine
