// Gemma 4's prompt format, rendered natively (no Jinja) into tokens.
//
// The layout is the one the model's own chat template prints (gemma4.md section 6):
//   <bos>[<|turn>system\n[<|think|>]SYSTEM[<|tool>declaration:...<tool|>...]<turn|>\n]
//   <|turn>user\n...<turn|>\n<|turn>model\n...<turn|>\n ... <|turn>model\n[<|channel>thought\n<channel|>]
// Images, audio and video frames expand into runs of soft-token placeholders whose positions are
// reported, so the engine can put the encoder's embeddings there. Every control token is looked up
// by its text in the vocabulary.
#pragma once

#include "chat/json.h"
#include "tokenizer/vocab.h"

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace ocelle::chat {

using tokenizer::TokenId;

class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// An encoder's output for one image, audio clip or video frame: softTokens rows of the text
// model's width. Shared so that a conversation can be copied and rendered again cheaply.
using Embeddings = std::shared_ptr<const std::vector<float>>;

struct VideoFrame {
    double seconds = 0;    // timestamp, written as mm:ss
    int softTokens = 0;    // encoder output rows for this frame
    Embeddings embeddings; // optional: the rows themselves (engine::promptFromConversation needs them)
};

struct Part {
    enum class Kind { Text, Image, Audio, Video };
    Kind kind = Kind::Text;
    std::string text;               // Text
    int softTokens = 0;             // Image, Audio
    std::vector<VideoFrame> frames; // Video
    Embeddings embeddings;          // Image, Audio: optional encoder output (softTokens rows)

    static Part makeText(std::string text);
    static Part image(int softTokens, Embeddings embeddings = {});
    static Part audio(int softTokens, Embeddings embeddings = {});
    static Part video(std::vector<VideoFrame> frames);
};

struct ToolCall {
    std::string id; // caller's id (OpenAI tool_call_id), not rendered
    std::string name;
    json::Value arguments; // an object, rendered key by key; a string is rendered verbatim
};

struct ToolResponse {
    std::string name;
    json::Value response; // an object is rendered key by key, anything else as {value:...}
};

struct Message {
    std::string role; // "system", "user", "assistant" (or "model"), or any other turn name
    std::vector<Part> content;
    std::vector<ToolCall> toolCalls;         // model turns
    std::vector<ToolResponse> toolResponses; // results of this turn's tool calls
};

struct Conversation {
    std::vector<Message> messages;
    std::vector<json::Value> tools; // OpenAI-style {"type":"function","function":{...}} entries
    bool thinking = false;
    bool addGenerationPrompt = true;
};

enum class MediaKind { Image, Audio, VideoFrame };

// Where one image, audio clip or video frame's placeholders sit in the prompt.
struct SoftTokenSpan {
    MediaKind kind = MediaKind::Image;
    size_t message = 0; // index into Conversation::messages
    size_t part = 0;    // index into that message's content
    size_t frame = 0;   // video frame number (0 otherwise)
    size_t begin = 0;   // position of the first placeholder token
    size_t count = 0;   // number of placeholders (= soft tokens)
};

struct Prompt {
    std::vector<TokenId> tokens;
    std::vector<SoftTokenSpan> spans;
};

// The control tokens of the format, found by text.
struct FormatTokens {
    TokenId bos, turnStart, turnEnd, think, channelStart, channelEnd, toolCallStart, toolCallEnd,
        toolResponseStart, toolResponseEnd, quote, toolStart, toolEnd, imageStart, imageEnd, imageSoft,
        audioStart, audioEnd, audioSoft, videoSoft;
};

class ChatFormat {
public:
    // Throws tokenizer::Error naming any control token the vocabulary lacks.
    explicit ChatFormat(const tokenizer::Vocab& vocab);

    Prompt render(const Conversation& conversation) const;
    // The prompt as text, control tokens written out (what `ocelle-cli chat-template` prints).
    std::string renderText(const Conversation& conversation) const;

    const FormatTokens& tokens() const { return tokens_; }
    const tokenizer::Vocab& vocab() const { return vocab_; }

private:
    const tokenizer::Vocab& vocab_;
    FormatTokens tokens_;
};

// Reasoning removed from an earlier model turn: every `<|channel>...<channel|>` block is cut
// and the rest trimmed (the template's strip_thinking).
std::string stripThinking(std::string_view text);
// Python's str.strip(): the template's `trim`.
std::string trim(std::string_view text);

// Gemma's argument syntax (format_argument): strings in <|"|> quotes, objects with keys in sorted
// order, Python spellings for other scalars. `quoteKeys` quotes object keys too.
std::string formatArgument(const json::Value& value, bool quoteKeys);
// One tool declaration as it appears between <|tool> and <tool|>.
std::string formatToolDeclaration(const json::Value& tool);

struct MediaDefaults {
    int imageSoftTokens = 256;     // an 896x896 image at the default budget of 280
    int audioSoftTokens = 25;      // one second of audio
    int videoFrameSoftTokens = 64; // an 896x896 frame at the video budget of 70
};

// An OpenAI-style chat request: {"messages": [...], "tools": [...], "thinking": bool,
// "add_generation_prompt": bool}, or just the messages array. Content is a string or a list of
// parts ({"type":"text"|"image"|"image_url"|"audio"|"input_audio"|"video", ...}; media parts
// may give "soft_tokens", video parts "frames": [{"time": s, "soft_tokens": n}] or
// "timestamps": [s, ...]). Role "tool" messages that follow an assistant turn with tool calls
// become that turn's tool responses. Throws chat::Error naming the offending field.
Conversation conversationFromJson(const json::Value& request, const MediaDefaults& defaults = {});

} // namespace ocelle::chat
