#include "tokenizer/vocab.h"

#include "gguf/gguf.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <queue>

namespace ocelle::tokenizer {

namespace {

// Behaviour bits per token (llama.cpp's token attributes, reduced to what tokenization needs).
enum Flag : uint8_t {
    kNormal = 1 << 0,
    kControl = 1 << 1,
    kUserDefined = 1 << 2,
    kUnknown = 1 << 3,
    kByte = 1 << 4,
    kEndOfGeneration = 1 << 5,
};

const std::string_view kSpaceMark = "\xE2\x96\x81"; // U+2581, how the vocabulary writes a space

// Texts llama.cpp treats as end-of-generation (and therefore as control tokens) when present.
constexpr std::string_view kEndOfGenerationTexts[] = {
    "<|eot_id|>",
    "<|im_end|>",
    "<|end|>",
    "<|return|>",
    "<|call|>",
    "<|flush|>",
    "<|calls|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "</s>",
    "<|eom_id|>",
    "<EOT>",
    "_<EOT>",
    "[EOT]",
    "[EOS]",
    "<|end_of_text|>",
    "<end_of_utterance>",
    "<eos>",
    "<turn|>",
    "<|tool_response>",
};

// Length of the UTF-8 sequence a lead byte announces; stray continuation bytes count as 1.
size_t utf8Length(uint8_t lead) {
    static constexpr uint8_t lengths[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return lengths[lead >> 4];
}

uint64_t pairKey(int32_t left, int32_t right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
}

uint64_t mixHash(uint64_t x) { // splitmix64 finaliser: spreads the packed pair over the table
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

constexpr uint64_t kEmptyKey = ~uint64_t{0};

uint32_t hashText(std::string_view s) {
    uint64_t h = 0xcbf29ce484222325ULL; // FNV-1a, then mixed so the low bits are usable
    for (char c : s) h = (h ^ static_cast<uint8_t>(c)) * 0x100000001b3ULL;
    return static_cast<uint32_t>(mixHash(h));
}

int hexDigit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

// "<0xAB>" -> 0xAB, or -1.
int byteTokenValue(std::string_view text) {
    if (text.size() != 6 || text.substr(0, 3) != "<0x" || text[5] != '>') return -1;
    const int hi = hexDigit(text[3]), lo = hexDigit(text[4]);
    return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

} // namespace

Vocab::~Vocab() = default;

void Vocab::SymbolMap::reserve(size_t entries) {
    size_t capacity = 16;
    while (capacity < entries * 2) capacity <<= 1;
    slots_.assign(capacity, Slot{0, -1});
    used_ = 0;
}

int32_t Vocab::SymbolMap::find(std::string_view text, const std::vector<std::string_view>& texts) const {
    if (slots_.empty()) return -1;
    const uint32_t h = hashText(text);
    const size_t mask = slots_.size() - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        const Slot& slot = slots_[i];
        if (slot.id < 0) return -1;
        if (slot.hash == h && texts[static_cast<size_t>(slot.id)] == text) return slot.id;
    }
}

int32_t Vocab::SymbolMap::insert(int32_t id, const std::vector<std::string_view>& texts) {
    if ((used_ + 1) * 2 > slots_.size()) grow();
    const std::string_view text = texts[static_cast<size_t>(id)];
    const uint32_t h = hashText(text);
    const size_t mask = slots_.size() - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        Slot& slot = slots_[i];
        if (slot.id < 0) {
            slot = Slot{h, id};
            ++used_;
            return id;
        }
        if (slot.hash == h && texts[static_cast<size_t>(slot.id)] == text) return slot.id;
    }
}

void Vocab::SymbolMap::prefetchSlot(uint32_t hash) const {
    if (!slots_.empty()) __builtin_prefetch(&slots_[hash & (slots_.size() - 1)]);
}

void Vocab::SymbolMap::prefetchEntry(uint32_t hash, const std::vector<std::string_view>& texts,
                                     bool bytes) const {
    if (slots_.empty()) return;
    const Slot& slot = slots_[hash & (slots_.size() - 1)];
    if (slot.id < 0) return;
    const std::string_view& text = texts[static_cast<size_t>(slot.id)];
    if (bytes) {
        __builtin_prefetch(text.data());
    } else {
        __builtin_prefetch(&text);
    }
}

void Vocab::SymbolMap::grow() {
    std::vector<Slot> old;
    old.swap(slots_);
    reserve(std::max<size_t>(old.size(), 8));
    const size_t mask = slots_.size() - 1;
    for (const Slot& s : old) {
        if (s.id < 0) continue;
        size_t i = s.hash & mask;
        while (slots_[i].id >= 0) i = (i + 1) & mask;
        slots_[i] = s;
        ++used_;
    }
}

std::unique_ptr<Vocab> Vocab::load(const std::string& path) {
    std::unique_ptr<gguf::File> file;
    try {
        file = gguf::File::open(path);
    } catch (const gguf::Error& e) {
        throw Error(e.what());
    }
    return fromGguf(*file);
}

std::unique_ptr<Vocab> Vocab::fromGguf(const gguf::File& file) {
    std::unique_ptr<Vocab> vocab(new Vocab());
    vocab->path_ = file.path();
    try {
        vocab->build(file);
    } catch (const gguf::Error& e) {
        throw Error(e.what());
    }
    return vocab;
}

void Vocab::build(const gguf::File& file) {
    auto fail = [&](const std::string& message) -> void { throw Error(path_ + ": " + message); };

    const gguf::Value* model = file.find("tokenizer.ggml.model");
    if (!model || !model->toString()) fail("no tokenizer (tokenizer.ggml.model is missing)");
    if (*model->toString() != "gemma4")
        fail("tokenizer.ggml.model is '" + std::string(*model->toString()) +
             "'; Ocelle reads only Gemma 4 tokenizers ('gemma4')");

    const gguf::Value* tokens = file.find("tokenizer.ggml.tokens");
    if (!tokens || !tokens->isArray() || tokens->elementType() != gguf::ValueType::String)
        fail("tokenizer.ggml.tokens is missing or not an array of strings");
    const uint64_t n = tokens->size();
    if (n == 0) fail("tokenizer.ggml.tokens is empty");
    if (n > static_cast<uint64_t>(std::numeric_limits<int32_t>::max() / 2))
        fail("tokenizer.ggml.tokens has " + std::to_string(n) + " entries, more than a token id can hold");

    const gguf::Value* scores = file.find("tokenizer.ggml.scores");
    if (scores && (!scores->isArray() || scores->size() < n ||
                   (scores->elementType() != gguf::ValueType::Float32 &&
                    scores->elementType() != gguf::ValueType::Int32)))
        fail("tokenizer.ggml.scores must be a float32 or int32 array with one entry per token");
    const gguf::Value* types = file.find("tokenizer.ggml.token_type");
    if (types && (!types->isArray() || types->size() < n || types->elementType() != gguf::ValueType::Int32))
        fail("tokenizer.ggml.token_type must be an int32 array with one entry per token");
    const gguf::Value* merges = file.find("tokenizer.ggml.merges");
    if (!merges || !merges->isArray() || merges->elementType() != gguf::ValueType::String)
        fail("tokenizer.ggml.merges is missing or not an array of strings");

    // Token texts, copied into one block. llama.cpp renames empty tokens; so do we, to match ids.
    std::vector<std::string> renamed;
    size_t blobSize = 0;
    for (uint64_t i = 0; i < n; ++i) blobSize += std::max<size_t>(tokens->stringAt(i).size(), 16);
    textBlob_.reserve(blobSize);
    textStart_.reserve(n + 1);
    for (uint64_t i = 0; i < n; ++i) {
        textStart_.push_back(static_cast<uint32_t>(textBlob_.size()));
        std::string_view t = tokens->stringAt(i);
        if (t.empty()) {
            textBlob_ += "[EMPTY_" + std::to_string(i) + "]";
        } else {
            textBlob_.append(t);
        }
        if (textBlob_.size() > std::numeric_limits<uint32_t>::max()) fail("token texts are too large");
    }
    textStart_.push_back(static_cast<uint32_t>(textBlob_.size()));
    tokens_.resize(n);
    for (uint64_t i = 0; i < n; ++i)
        tokens_[i] = std::string_view(textBlob_).substr(textStart_[i], textStart_[i + 1] - textStart_[i]);

    scores_.assign(n, 0.0f);
    types_.assign(n, TokenType::Normal);
    flags_.assign(n, 0);
    symbolTexts_.assign(tokens_.begin(), tokens_.end());
    symbolIds_.reserve(n + n / 8);
    for (uint64_t i = 0; i < n; ++i) {
        const auto id = static_cast<TokenId>(i);
        if (scores) scores_[i] = static_cast<float>(scores->floatAt(i).value_or(0.0));
        if (types) types_[i] = static_cast<TokenType>(types->intAt(i).value_or(1));
        switch (types_[i]) {
        case TokenType::Normal:
            flags_[i] = kNormal;
            break;
        case TokenType::Unknown:
            flags_[i] = kUnknown;
            break;
        case TokenType::Control:
            flags_[i] = kControl;
            break;
        case TokenType::UserDefined:
            flags_[i] = kUserDefined;
            break;
        case TokenType::Byte:
            flags_[i] = kByte;
            break;
        default:
            flags_[i] = 0;
            break; // unused/undefined tokens render as nothing
        }
        if (const int32_t stored = symbolIds_.insert(id, symbolTexts_); stored != id)
            fail("duplicate token '" + std::string(tokens_[i]) + "' (ids " + std::to_string(stored) +
                 " and " + std::to_string(i) + ")");
    }

    std::fill(std::begin(byteTokens_), std::end(byteTokens_), -1);
    for (uint64_t i = 0; i < n; ++i) {
        if (!(flags_[i] & kByte)) continue;
        const int value = byteTokenValue(tokens_[i]);
        if (value < 0)
            fail("byte token " + std::to_string(i) + " is '" + std::string(tokens_[i]) + "', not <0xXX>");
        byteTokens_[value] = static_cast<TokenId>(i);
    }
    // Byte fallback looks tokens up by their <0xXX> text whatever their type (as llama.cpp does).
    for (int b = 0; b < 256; ++b) {
        static const char* hex = "0123456789ABCDEF";
        const char text[6] = {'<', '0', 'x', hex[b >> 4], hex[b & 15], '>'};
        if (auto id = find(std::string_view(text, 6))) byteTokens_[b] = *id;
    }

    // Special token ids.
    auto tokenKey = [&](const char* key, bool required) -> std::optional<TokenId> {
        const gguf::Value* v = file.find(key);
        if (!v) {
            if (required) fail(std::string(key) + " is missing");
            return std::nullopt;
        }
        auto id = v->toInt();
        if (!id || *id < 0 || static_cast<uint64_t>(*id) >= n)
            fail(std::string(key) + " is " + v->describe() + ", not a token id below " + std::to_string(n));
        return static_cast<TokenId>(*id);
    };
    bos_ = *tokenKey("tokenizer.ggml.bos_token_id", true);
    eos_ = *tokenKey("tokenizer.ggml.eos_token_id", true);
    pad_ = tokenKey("tokenizer.ggml.padding_token_id", false);

    // End-of-generation tokens; llama.cpp makes them control tokens whatever the file says.
    for (std::string_view t : kEndOfGenerationTexts) {
        if (auto id = find(t)) eogIds_.push_back(*id);
    }
    if (std::find(eogIds_.begin(), eogIds_.end(), eos_) == eogIds_.end()) eogIds_.push_back(eos_);
    // ...except that with <|tool_response> present, "</s>" is ordinary text (llama.cpp's Gemma 4 rule).
    if (find("<|tool_response>")) {
        if (auto s = find("</s>")) {
            eogIds_.erase(std::remove(eogIds_.begin(), eogIds_.end(), *s), eogIds_.end());
            flags_[*s] = kNormal;
        }
    }
    std::sort(eogIds_.begin(), eogIds_.end());
    for (TokenId id : eogIds_) flags_[id] |= kControl | kEndOfGeneration;

    // Tokens recognised in raw text before BPE, longest first so that no shorter token can cut
    // into a longer one (llama.cpp's order; ties by id to stay deterministic).
    for (uint64_t i = 0; i < n; ++i) {
        if (flags_[i] & (kControl | kUserDefined | kUnknown))
            specialTokens_.push_back(static_cast<TokenId>(i));
    }
    std::stable_sort(specialTokens_.begin(), specialTokens_.end(),
                     [&](TokenId a, TokenId b) { return tokens_[a].size() > tokens_[b].size(); });

    // Merges: "LEFT RIGHT" split at the first space after the first byte, rank = position.
    const uint64_t m = merges->size();
    if (m > static_cast<uint64_t>(std::numeric_limits<int32_t>::max()))
        fail("tokenizer.ggml.merges has too many entries");
    size_t capacity = 16;
    while (capacity < m * 2) capacity <<= 1;
    mergeKeys_.assign(capacity, kEmptyKey);
    mergeValues_.assign(capacity, Merge{0});
    auto internSymbol = [&](std::string_view text) -> int32_t {
        const int32_t found = symbolIds_.find(text, symbolTexts_);
        if (found >= 0) return found;
        const size_t extraId = symbolTexts_.size();
        if (extraId > static_cast<size_t>(std::numeric_limits<int32_t>::max()))
            fail("too many merge symbols");
        extraSymbols_.emplace_back(text);
        symbolTexts_.push_back(extraSymbols_.back());
        return symbolIds_.insert(static_cast<int32_t>(extraId), symbolTexts_);
    };
    // The symbol of a merged pair is looked up when the merge happens (tokenizeRun); merged texts
    // that are parts of later merges get their ids here.
    // Merges are looked up in batches: the table is far bigger than the caches, so the slots and
    // token texts a batch needs are prefetched before any of them is compared.
    constexpr uint64_t kBatch = 64;
    std::string_view parts[kBatch][2];
    uint32_t hashes[kBatch][2];
    for (uint64_t base = 0; base < m; base += kBatch) {
        const uint64_t count = std::min(kBatch, m - base);
        for (uint64_t k = 0; k < count; ++k) {
            const uint64_t i = base + k;
            const std::string_view entry = merges->stringAt(i);
            const size_t space = entry.size() > 1 ? entry.find(' ', 1) : std::string_view::npos;
            if (space == std::string_view::npos)
                fail("merge " + std::to_string(i) + " ('" + std::string(entry) +
                     "') has no space between its two parts");
            parts[k][0] = entry.substr(0, space);
            parts[k][1] = entry.substr(space + 1);
            if (parts[k][1].empty())
                fail("merge " + std::to_string(i) + " ('" + std::string(entry) + "') has an empty part");
            for (int side = 0; side < 2; ++side) {
                hashes[k][side] = hashText(parts[k][side]);
                symbolIds_.prefetchSlot(hashes[k][side]);
            }
        }
        for (uint64_t k = 0; k < count; ++k)
            for (int side = 0; side < 2; ++side)
                symbolIds_.prefetchEntry(hashes[k][side], symbolTexts_, false);
        for (uint64_t k = 0; k < count; ++k)
            for (int side = 0; side < 2; ++side)
                symbolIds_.prefetchEntry(hashes[k][side], symbolTexts_, true);
        for (uint64_t k = 0; k < count; ++k) {
            const int32_t leftId = internSymbol(parts[k][0]), rightId = internSymbol(parts[k][1]);
            const uint64_t key = pairKey(leftId, rightId);
            size_t slot = mixHash(key) & (capacity - 1);
            while (mergeKeys_[slot] != kEmptyKey && mergeKeys_[slot] != key)
                slot = (slot + 1) & (capacity - 1);
            if (mergeKeys_[slot] == key) continue; // the first (lowest-rank) occurrence wins
            mergeKeys_[slot] = key;
            mergeValues_[slot] = Merge{static_cast<int32_t>(base + k)};
            ++mergeCount_;
        }
    }
    mergeResults_ = std::make_unique<std::atomic<int32_t>[]>(capacity);
    for (size_t i = 0; i < capacity; ++i) mergeResults_[i].store(kUnknownResult, std::memory_order_relaxed);
    for (int c = 0; c < 128; ++c) {
        const char ch = static_cast<char>(c);
        asciiSymbols_[c] = symbolOf(std::string_view(&ch, 1));
    }
}

std::string_view Vocab::text(TokenId id) const {
    if (!contains(id)) throw Error("token id " + std::to_string(id) + " is outside the vocabulary");
    return tokens_[id];
}

float Vocab::score(TokenId id) const {
    if (!contains(id)) throw Error("token id " + std::to_string(id) + " is outside the vocabulary");
    return scores_[id];
}

TokenType Vocab::type(TokenId id) const {
    if (!contains(id)) throw Error("token id " + std::to_string(id) + " is outside the vocabulary");
    return types_[id];
}

bool Vocab::isControl(TokenId id) const {
    return contains(id) && (flags_[id] & kControl);
}
bool Vocab::isUserDefined(TokenId id) const {
    return contains(id) && (flags_[id] & kUserDefined);
}
bool Vocab::isByte(TokenId id) const {
    return contains(id) && (flags_[id] & kByte);
}
bool Vocab::isEndOfGeneration(TokenId id) const {
    return contains(id) && (flags_[id] & kEndOfGeneration);
}

std::optional<TokenId> Vocab::find(std::string_view text) const {
    const int32_t id = symbolIds_.find(text, symbolTexts_);
    if (id < 0 || static_cast<size_t>(id) >= tokens_.size()) return std::nullopt;
    return id;
}

TokenId Vocab::require(std::string_view text) const {
    if (auto id = find(text)) return *id;
    throw Error(path_ + ": the vocabulary has no token '" + std::string(text) + "'");
}

int32_t Vocab::symbolOf(std::string_view text) const {
    return symbolIds_.find(text, symbolTexts_);
}

int64_t Vocab::findMerge(int32_t left, int32_t right) const {
    if (left < 0 || right < 0 || mergeKeys_.empty()) return -1;
    const uint64_t key = pairKey(left, right);
    const size_t mask = mergeKeys_.size() - 1;
    for (size_t slot = mixHash(key) & mask;; slot = (slot + 1) & mask) {
        if (mergeKeys_[slot] == key) return static_cast<int64_t>(slot);
        if (mergeKeys_[slot] == kEmptyKey) return -1;
    }
}

int32_t Vocab::mergedSymbol(size_t slot, std::string_view mergedText) const {
    // The merged text of a pair never changes, so its symbol is computed once and remembered
    // (a benign race between threads stores the same value).
    int32_t id = mergeResults_[slot].load(std::memory_order_relaxed);
    if (id == kUnknownResult) {
        id = symbolOf(mergedText);
        mergeResults_[slot].store(id, std::memory_order_relaxed);
    }
    return id;
}

std::vector<TokenId> Vocab::tokenize(std::string_view text, bool addSpecial, bool parseSpecial) const {
    std::vector<TokenId> out;
    out.reserve(text.size() / 3 + 2);
    if (addSpecial) out.push_back(bos_);
    if (text.empty()) return out;

    // Split the text at special-token occurrences, one token text at a time, longest first.
    struct Fragment {
        TokenId token; // -1 for raw text
        size_t offset, length;
    };
    std::vector<Fragment> fragments{{-1, 0, text.size()}}, next;
    for (TokenId special : specialTokens_) {
        if (!parseSpecial && (flags_[special] & (kControl | kUnknown))) continue;
        const std::string_view needle = tokens_[special];
        next.clear();
        bool split = false;
        for (const Fragment& f : fragments) {
            if (f.token >= 0) {
                next.push_back(f);
                continue;
            }
            const std::string_view raw = text.substr(f.offset, f.length);
            size_t from = 0;
            for (size_t at; (at = raw.find(needle, from)) != std::string_view::npos;
                 from = at + needle.size()) {
                if (at > from) next.push_back({-1, f.offset + from, at - from});
                next.push_back({special, 0, 0});
                split = true;
            }
            if (from < raw.size()) next.push_back({-1, f.offset + from, raw.size() - from});
        }
        if (split) fragments.swap(next);
    }
    for (const Fragment& f : fragments) {
        if (f.token >= 0) {
            out.push_back(f.token);
        } else {
            tokenizeFragment(text.substr(f.offset, f.length), out);
        }
    }
    return out;
}

void Vocab::appendTokens(std::string_view text, std::vector<TokenId>& out) const {
    const std::vector<TokenId> ids = tokenize(text, false, false);
    out.insert(out.end(), ids.begin(), ids.end());
}

void Vocab::tokenizeFragment(std::string_view fragment, std::vector<TokenId>& out) const {
    // Spaces become U+2581. Bytes that do not form UTF-8 become U+FFFD, because llama.cpp's
    // pre-splitter decodes the text to code points that way before BPE sees it.
    static constexpr std::string_view kReplacement = "\xEF\xBF\xBD";
    std::string escaped;
    escaped.reserve(fragment.size() + fragment.size() / 4);
    for (size_t i = 0; i < fragment.size();) {
        const auto c = static_cast<uint8_t>(fragment[i]);
        if (c == ' ') {
            escaped.append(kSpaceMark);
            ++i;
            continue;
        }
        size_t length = 0;
        if (c < 0x80) {
            length = 1;
        } else if ((c & 0xE0) == 0xC0) {
            length = 2;
        } else if ((c & 0xF0) == 0xE0) {
            length = 3;
        } else if ((c & 0xF8) == 0xF0) {
            length = 4;
        }
        bool valid = length > 0 && i + length <= fragment.size();
        for (size_t k = 1; valid && k < length; ++k)
            valid = (static_cast<uint8_t>(fragment[i + k]) & 0xC0) == 0x80;
        // Four-byte forms beyond U+10FFFF are not code points either.
        if (valid && length == 4 && (c > 0xF4 || (c == 0xF4 && static_cast<uint8_t>(fragment[i + 1]) > 0x8F)))
            valid = false;
        if (valid) {
            escaped.append(fragment.substr(i, length));
            i += length;
        } else {
            escaped.append(kReplacement);
            ++i;
        }
    }
    // Pre-split into maximal runs of newlines and of everything else.
    size_t begin = 0;
    while (begin < escaped.size()) {
        const bool newlines = escaped[begin] == '\n';
        size_t end = begin;
        while (end < escaped.size() && (escaped[end] == '\n') == newlines) ++end;
        tokenizeRun(std::string_view(escaped).substr(begin, end - begin), out);
        begin = end;
    }
}

void Vocab::tokenizeRun(std::string_view run, std::vector<TokenId>& out) const {
    // A newline run that is itself a token is used whole (llama.cpp's Gemma 4 rule).
    if (run.front() == '\n') {
        if (auto id = find(run)) {
            out.push_back(*id);
            return;
        }
    }

    struct Symbol {
        uint32_t start, length;
        int32_t id; // symbol id, -1 when the text is neither a token nor part of any merge
        int32_t prev, next;
    };
    std::vector<Symbol> symbols;
    symbols.reserve(run.size());
    for (size_t offset = 0; offset < run.size();) {
        const size_t length = std::min(run.size() - offset, utf8Length(static_cast<uint8_t>(run[offset])));
        const auto index = static_cast<int32_t>(symbols.size());
        symbols.push_back({static_cast<uint32_t>(offset), static_cast<uint32_t>(length),
                           length == 1 && static_cast<uint8_t>(run[offset]) < 0x80
                               ? asciiSymbols_[static_cast<uint8_t>(run[offset])]
                               : symbolOf(run.substr(offset, length)),
                           index - 1, -1});
        if (index > 0) symbols[index - 1].next = index;
        offset += length;
    }

    // Candidate merges of adjacent symbols, lowest rank first, leftmost first among equal ranks.
    struct Candidate {
        int32_t rank, left, right;
        uint32_t length; // combined length when queued; a mismatch later means it went stale
        size_t slot;     // the merge's table slot
    };
    auto later = [](const Candidate& a, const Candidate& b) {
        return a.rank != b.rank ? a.rank > b.rank : a.left > b.left;
    };
    std::priority_queue<Candidate, std::vector<Candidate>, decltype(later)> queue(later);
    auto consider = [&](int32_t left, int32_t right) {
        if (left < 0 || right < 0) return;
        const int64_t slot = findMerge(symbols[left].id, symbols[right].id);
        if (slot >= 0)
            queue.push({mergeValues_[static_cast<size_t>(slot)].rank, left, right,
                        symbols[left].length + symbols[right].length, static_cast<size_t>(slot)});
    };
    for (int32_t i = 1; i < static_cast<int32_t>(symbols.size()); ++i) consider(i - 1, i);

    while (!queue.empty()) {
        const Candidate c = queue.top();
        queue.pop();
        Symbol& left = symbols[c.left];
        Symbol& right = symbols[c.right];
        if (left.length == 0 || right.length == 0 || left.length + right.length != c.length) continue;
        left.length += right.length;
        left.id = mergedSymbol(c.slot, run.substr(left.start, left.length));
        right.length = 0;
        left.next = right.next;
        if (right.next >= 0) symbols[right.next].prev = c.left;
        consider(left.prev, c.left);
        consider(c.left, left.next);
    }

    for (int32_t i = symbols.empty() ? -1 : 0; i >= 0; i = symbols[i].next) {
        const Symbol& s = symbols[i];
        if (s.id >= 0 && static_cast<size_t>(s.id) < tokens_.size()) {
            out.push_back(s.id);
            continue;
        }
        for (size_t k = 0; k < s.length; ++k) {
            const TokenId byteToken = byteTokens_[static_cast<uint8_t>(run[s.start + k])];
            if (byteToken >= 0) out.push_back(byteToken);
        }
    }
}

std::string Vocab::piece(TokenId id, bool unparseSpecial) const {
    if (!contains(id)) throw Error("token id " + std::to_string(id) + " is outside the vocabulary");
    const uint8_t f = flags_[id];
    if (f & (kControl | kUnknown)) return unparseSpecial ? std::string(tokens_[id]) : std::string();
    if (f & kUserDefined) return std::string(tokens_[id]);
    if (f & kNormal) {
        std::string result;
        const std::string_view t = tokens_[id];
        result.reserve(t.size());
        for (size_t i = 0; i < t.size();) {
            if (t.compare(i, kSpaceMark.size(), kSpaceMark) == 0) {
                result.push_back(' ');
                i += kSpaceMark.size();
            } else {
                result.push_back(t[i++]);
            }
        }
        return result;
    }
    if (f & kByte) return std::string(1, static_cast<char>(byteTokenValue(tokens_[id])));
    return {};
}

namespace {

// llama.cpp's clean_up_tokenization_spaces, three in-place passes over the joined pieces.
void cleanSpaces(std::string& s) {
    // " ?", " !", " .", " ," lose the space.
    size_t n = s.size(), total = n ? 1 : 0;
    for (size_t i = 1; i < n; ++i) {
        const char x = s[i];
        if (s[i - 1] == ' ' && (x == '?' || x == '!' || x == '.' || x == ',')) --total;
        s[total++] = x;
    }
    // A lone apostrophe between spaces loses both spaces.
    n = total;
    total = n ? 1 : 0;
    for (size_t i = 1; i < n; ++i) {
        const char x = s[i];
        if (x == '\'' && i + 1 < n && s[i - 1] == ' ' && s[i + 1] == ' ') {
            --total;
            s[++i] = '\0';
        }
        s[total++] = x;
    }
    // " 's", " 'm", " 're", " 've" lose the space.
    n = total;
    total = n ? 1 : 0;
    for (size_t i = 1; i < n; ++i) {
        const char x = s[i];
        if (s[i - 1] == ' ' && x == '\'' && i + 1 < n) {
            const char x1 = s[i + 1];
            if (x1 == 's' || x1 == 'm') {
                --total;
            } else if (i + 2 < n) {
                const char x2 = s[i + 2];
                if ((x1 == 'r' && x2 == 'e') || (x1 == 'v' && x2 == 'e')) --total;
            }
        }
        s[total++] = x;
    }
    s.resize(total);
}

} // namespace

std::string Vocab::detokenize(std::span<const TokenId> ids, const DetokenizeOptions& options) const {
    if (options.removeSpecial && !ids.empty() && ids.front() == bos_) ids = ids.subspan(1);
    std::string text;
    for (TokenId id : ids) text += piece(id, options.unparseSpecial);
    if (options.cleanSpaces) cleanSpaces(text);
    return text;
}

} // namespace ocelle::tokenizer
