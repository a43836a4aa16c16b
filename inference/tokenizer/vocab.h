// Gemma 4's tokenizer (`tokenizer.ggml.model = "gemma4"`), read from a GGUF file.
//
// Tokenization follows llama.cpp's behaviour for this vocabulary exactly (the fixtures were made
// with it): spaces become U+2581, no dummy prefix, the text is pre-split only into runs of
// newlines and runs of anything else, BPE merges by rank inside each run, `<0xXX>` byte fallback
// for anything no token covers. USER_DEFINED tokens are always recognised in the text, CONTROL
// tokens only when asked (`parseSpecial`), and `addSpecial` puts exactly one `<bos>` in front.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace ocelle::gguf {
class File;
}

namespace ocelle::tokenizer {

using TokenId = int32_t;

class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// `tokenizer.ggml.token_type` values (llama.cpp's llama_token_type).
enum class TokenType : int32_t {
    Undefined = 0,
    Normal = 1,
    Unknown = 2,
    Control = 3,
    UserDefined = 4,
    Unused = 5,
    Byte = 6,
};

struct DetokenizeOptions {
    bool removeSpecial = false;  // drop a leading <bos>
    bool unparseSpecial = false; // render CONTROL tokens as their text instead of dropping them
    // llama.cpp's clean-up pass (" ." -> "." and similar), which llama_detokenize applies for
    // this vocabulary. Streaming output never has it, so callers that compare against streamed
    // text turn it off.
    bool cleanSpaces = true;
};

class Vocab {
public:
    // Reads the tokenizer from an open GGUF file (which may be a whole model). Throws
    // tokenizer::Error naming the file and the problem. The Vocab copies what it needs, so the
    // File may be closed afterwards.
    static std::unique_ptr<Vocab> fromGguf(const gguf::File& file);
    // Opens `path` and reads its tokenizer.
    static std::unique_ptr<Vocab> load(const std::string& path);

    ~Vocab();
    Vocab(const Vocab&) = delete;
    Vocab& operator=(const Vocab&) = delete;

    size_t size() const { return tokens_.size(); }
    bool contains(TokenId id) const { return id >= 0 && static_cast<size_t>(id) < tokens_.size(); }
    std::string_view text(TokenId id) const; // the stored token text (spaces as U+2581)
    float score(TokenId id) const;
    TokenType type(TokenId id) const; // as stored in the file

    // Behaviour flags (llama.cpp's attributes after its load-time adjustments: end-of-generation
    // tokens count as control tokens even where the file says otherwise).
    bool isControl(TokenId id) const;
    bool isUserDefined(TokenId id) const;
    bool isByte(TokenId id) const;
    bool isEndOfGeneration(TokenId id) const;

    std::optional<TokenId> find(std::string_view text) const;
    // The id of a token given by its text; throws naming the token when the vocabulary lacks it.
    TokenId require(std::string_view text) const;

    TokenId bos() const { return bos_; }
    TokenId eos() const { return eos_; }
    std::optional<TokenId> pad() const { return pad_; }
    const std::vector<TokenId>& endOfGeneration() const { return eogIds_; }
    size_t mergeCount() const { return mergeCount_; }

    std::vector<TokenId> tokenize(std::string_view text, bool addSpecial, bool parseSpecial) const;
    // Tokenizes text that contains no special tokens to recognise, appending to `out` (no BOS,
    // USER_DEFINED token text is still matched, as in tokenize()).
    void appendTokens(std::string_view text, std::vector<TokenId>& out) const;

    // The bytes one token stands for (llama_token_to_piece with lstrip 0): CONTROL and UNKNOWN
    // tokens give nothing unless unparseSpecial; byte tokens give their byte, which may be part
    // of a UTF-8 character.
    std::string piece(TokenId id, bool unparseSpecial) const;
    std::string detokenize(std::span<const TokenId> ids, const DetokenizeOptions& options = {}) const;

private:
    Vocab() = default;
    // Open-addressing map from symbol text to symbol id (no per-entry allocation, one probe
    // sequence per look-up: loading 262144 tokens and half a million merges stays fast).
    class SymbolMap {
    public:
        void reserve(size_t entries);
        // The id stored for `text`, or -1.
        int32_t find(std::string_view text, const std::vector<std::string_view>& texts) const;
        // Inserts id for texts[id] unless that text is present; returns the id that is stored.
        int32_t insert(int32_t id, const std::vector<std::string_view>& texts);
        // Cache warm-up for a coming find(): the first probe slot, then what it points to.
        void prefetchSlot(uint32_t hash) const;
        void prefetchEntry(uint32_t hash, const std::vector<std::string_view>& texts, bool bytes) const;

    private:
        struct Slot {
            uint32_t hash;
            int32_t id; // -1: empty
        };
        void grow();
        std::vector<Slot> slots_;
        size_t used_ = 0;
    };
    struct Merge {
        int32_t rank;
    };

    void build(const gguf::File& file);
    void tokenizeRun(std::string_view run, std::vector<TokenId>& out) const;
    void tokenizeFragment(std::string_view fragment, std::vector<TokenId>& out) const;
    int32_t symbolOf(std::string_view text) const;
    int64_t findMerge(int32_t left, int32_t right) const; // table slot, or -1
    int32_t mergedSymbol(size_t slot, std::string_view mergedText) const;

    std::string path_;
    std::string textBlob_;            // all token texts back to back
    std::vector<uint32_t> textStart_; // size()+1 offsets into textBlob_
    std::vector<std::string_view> tokens_;
    std::vector<float> scores_;
    std::vector<TokenType> types_;
    std::vector<uint8_t> flags_;
    // Symbols are token ids, plus ids >= size() for strings that occur in merges but are no token.
    std::vector<std::string_view> symbolTexts_; // by symbol id
    SymbolMap symbolIds_;
    std::deque<std::string> extraSymbols_; // texts of the non-token symbols (stable addresses)
    // Open-addressing table from (left symbol, right symbol) to merge.
    std::vector<uint64_t> mergeKeys_;
    std::vector<Merge> mergeValues_;
    static constexpr int32_t kUnknownResult = -2;
    std::unique_ptr<std::atomic<int32_t>[]> mergeResults_; // per slot: symbol of the merged text, memoized
    int32_t asciiSymbols_[128] = {};                       // symbol ids of single ASCII characters
    size_t mergeCount_ = 0;
    std::vector<TokenId> specialTokens_; // CONTROL/USER_DEFINED/UNKNOWN, longest text first
    TokenId byteTokens_[256] = {};       // <0xXX> ids, -1 when missing
    TokenId bos_ = -1;
    TokenId eos_ = -1;
    std::optional<TokenId> pad_;
    std::vector<TokenId> eogIds_;
};

} // namespace ocelle::tokenizer
