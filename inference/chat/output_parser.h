// Splitting what Gemma 4 generates into reasoning, answer and tool calls, as it streams.
//
// The model writes `<|channel>thought\n REASONING <channel|>` before its answer and
// `<|tool_call>call:NAME{key:value,...}<tool_call|>` for tool calls. The parser works on text,
// so a tag that arrives split over several tokens (or several bytes) is still recognised: text
// that could be the start of a tag is held back until it is clear. A turn that ends inside the
// reasoning keeps what was reasoned; stray closing tags are dropped.
#pragma once

#include "chat/json.h"
#include "tokenizer/detokenizer.h"
#include "tokenizer/vocab.h"

#include <string>
#include <string_view>
#include <vector>

namespace ocelle::chat {

struct ParsedToolCall {
    std::string name;
    json::Value arguments; // an object when the call parsed
    bool valid = false;    // false: `raw` did not follow the call syntax; arguments is empty
    std::string raw;       // the text between the tags
};

// Gemma's call syntax `call:NAME{key:value,...}` (strings quoted with <|"|>) to a name and a
// JSON object. Never throws; see ParsedToolCall::valid.
ParsedToolCall parseToolCall(std::string_view body);

// What one push() added.
struct OutputDelta {
    std::string reasoning;
    std::string answer;
    std::vector<ParsedToolCall> toolCalls;
    bool empty() const { return reasoning.empty() && answer.empty() && toolCalls.empty(); }
};

struct ParsedOutput {
    std::string channel; // the reasoning channel's name ("thought")
    std::string reasoning;
    std::string answer;
    std::vector<ParsedToolCall> toolCalls;
    bool reasoningUnterminated = false; // the turn ended inside <|channel>...
    bool toolCallUnterminated = false;  // the turn ended inside <|tool_call>...
    bool ended = false;                 // an end-of-turn tag was seen or finish() was called
};

class OutputParser {
public:
    OutputDelta push(std::string_view text);
    // End of the turn: releases held-back text. Further pushes are ignored.
    OutputDelta finish();
    const ParsedOutput& result() const { return result_; }
    void reset();

private:
    enum class State { Answer, ChannelName, Reasoning, ToolCall };
    void emitText(std::string_view text, OutputDelta& delta);
    void handleTag(std::string_view tag, OutputDelta& delta);
    void closeToolCall(OutputDelta& delta);
    State state_ = State::Answer;
    std::string held_;
    std::string toolBody_;
    bool endSeen_ = false;
    ParsedOutput result_;
};

// Feeds generated token ids: end-of-generation tokens finish the turn, other control tokens are
// ignored, everything else goes through a UTF-8-safe streaming detokenizer into the parser.
class TokenOutputParser {
public:
    explicit TokenOutputParser(const tokenizer::Vocab& vocab);
    OutputDelta push(tokenizer::TokenId id);
    OutputDelta finish();
    const ParsedOutput& result() const { return parser_.result(); }
    bool ended() const { return parser_.result().ended; }

private:
    const tokenizer::Vocab& vocab_;
    tokenizer::StreamingDetokenizer detokenizer_;
    OutputParser parser_;
};

} // namespace ocelle::chat
