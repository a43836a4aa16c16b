#include "chat/output_parser.h"

#include "chat/chat_format.h"

#include <cstdlib>

namespace ocelle::chat {

namespace {

constexpr std::string_view kQuote = "<|\"|>";
constexpr std::string_view kChannelOpen = "<|channel>";
constexpr std::string_view kChannelClose = "<channel|>";
constexpr std::string_view kToolCallOpen = "<|tool_call>";
constexpr std::string_view kToolCallClose = "<tool_call|>";
// Text forms of the tokens that end a model turn (seen when control tokens are rendered as text).
constexpr std::string_view kEndTags[] = {"<turn|>", "<|tool_response>", "<eos>", "<|turn>"};
constexpr std::string_view kAllTags[] = {kChannelOpen, kChannelClose,      kToolCallOpen, kToolCallClose,
                                         "<turn|>",    "<|tool_response>", "<eos>",       "<|turn>"};

void append(OutputDelta& into, OutputDelta&& from) {
    into.reasoning += from.reasoning;
    into.answer += from.answer;
    for (auto& call : from.toolCalls) into.toolCalls.push_back(std::move(call));
}

bool isJsonNumber(std::string_view s) {
    size_t i = 0;
    auto digits = [&] {
        const size_t from = i;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
        return i - from;
    };
    if (i < s.size() && s[i] == '-') ++i;
    if (i < s.size() && s[i] == '0') {
        ++i;
    } else if (digits() == 0) {
        return false;
    }
    if (i < s.size() && s[i] == '.') {
        ++i;
        if (digits() == 0) return false;
    }
    if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
        ++i;
        if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
        if (digits() == 0) return false;
    }
    return i == s.size();
}

// Gemma's argument syntax: like JSON, but strings are wrapped in <|"|> (no escapes), object keys
// are bare or quoted, and scalars are written bare.
class ArgumentParser {
public:
    explicit ArgumentParser(std::string_view text) : s_(text) {}

    bool object(json::Value& out, int depth = 0) {
        if (depth > 64 || !eat('{')) return false;
        out = json::Value::object();
        space();
        if (eat('}')) return true;
        while (true) {
            space();
            std::string key;
            if (startsWith(kQuote)) {
                if (!quoted(key)) return false;
            } else {
                const size_t colon = s_.find(':', i_);
                if (colon == std::string_view::npos) return false;
                key = trim(s_.substr(i_, colon - i_));
                i_ = colon;
                if (key.empty()) return false;
            }
            space();
            if (!eat(':')) return false;
            json::Value v;
            if (!value(v, depth + 1)) return false;
            out.set(std::move(key), std::move(v));
            space();
            if (eat(',')) continue;
            if (eat('}')) return true;
            return false;
        }
    }

    bool atEnd() {
        space();
        return i_ == s_.size();
    }

private:
    bool value(json::Value& out, int depth) {
        space();
        if (i_ >= s_.size()) return false;
        if (startsWith(kQuote)) {
            std::string text;
            if (!quoted(text)) return false;
            out = json::Value::string(std::move(text));
            return true;
        }
        if (s_[i_] == '{') return object(out, depth);
        if (s_[i_] == '[') {
            if (depth > 64) return false;
            ++i_;
            out = json::Value::array();
            space();
            if (eat(']')) return true;
            while (true) {
                json::Value item;
                if (!value(item, depth + 1)) return false;
                out.push(std::move(item));
                space();
                if (eat(',')) continue;
                if (eat(']')) return true;
                return false;
            }
        }
        const size_t end = s_.find_first_of(",}]", i_);
        const std::string bare = trim(s_.substr(i_, end == std::string_view::npos ? s_.npos : end - i_));
        i_ = end == std::string_view::npos ? s_.size() : end;
        if (bare.empty()) return false;
        if (bare == "true" || bare == "True") {
            out = json::Value::boolean(true);
        } else if (bare == "false" || bare == "False") {
            out = json::Value::boolean(false);
        } else if (bare == "null" || bare == "None") {
            out = json::Value();
        } else if (isJsonNumber(bare)) {
            out = json::Value::number(std::strtod(bare.c_str(), nullptr), bare);
        } else {
            out = json::Value::string(bare); // an unquoted word: keep it as text
        }
        return true;
    }

    bool quoted(std::string& out) {
        i_ += kQuote.size();
        const size_t end = s_.find(kQuote, i_);
        if (end == std::string_view::npos) return false;
        out.assign(s_.substr(i_, end - i_));
        i_ = end + kQuote.size();
        return true;
    }
    bool startsWith(std::string_view prefix) const { return s_.substr(i_, prefix.size()) == prefix; }
    bool eat(char c) {
        if (i_ < s_.size() && s_[i_] == c) {
            ++i_;
            return true;
        }
        return false;
    }
    void space() {
        while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\t' || s_[i_] == '\r')) ++i_;
    }

    std::string_view s_;
    size_t i_ = 0;
};

} // namespace

ParsedToolCall parseToolCall(std::string_view body) {
    ParsedToolCall call;
    call.raw = std::string(body);
    const std::string text = trim(body);
    constexpr std::string_view prefix = "call:";
    if (text.compare(0, prefix.size(), prefix) != 0) return call;
    const size_t brace = text.find('{', prefix.size());
    if (brace == std::string::npos) return call;
    call.name = trim(std::string_view(text).substr(prefix.size(), brace - prefix.size()));
    ArgumentParser parser(std::string_view(text).substr(brace));
    json::Value arguments;
    if (call.name.empty() || !parser.object(arguments) || !parser.atEnd()) return call;
    call.arguments = std::move(arguments);
    call.valid = true;
    return call;
}

void OutputParser::reset() {
    *this = OutputParser();
}

void OutputParser::emitText(std::string_view text, OutputDelta& delta) {
    while (!text.empty()) {
        switch (state_) {
        case State::Answer:
            result_.answer += text;
            delta.answer += text;
            return;
        case State::Reasoning:
            result_.reasoning += text;
            delta.reasoning += text;
            return;
        case State::ToolCall:
            toolBody_ += text;
            return;
        case State::ChannelName: {
            // The channel's name runs to the first newline; the reasoning follows it.
            const size_t newline = text.find('\n');
            result_.channel += text.substr(0, newline);
            if (newline == std::string_view::npos) return;
            state_ = State::Reasoning;
            text.remove_prefix(newline + 1);
            break;
        }
        }
    }
}

void OutputParser::closeToolCall(OutputDelta& delta) {
    ParsedToolCall call = parseToolCall(toolBody_);
    toolBody_.clear();
    result_.toolCalls.push_back(call);
    delta.toolCalls.push_back(std::move(call));
}

void OutputParser::handleTag(std::string_view tag, OutputDelta& delta) {
    for (std::string_view end : kEndTags) {
        if (tag == end) {
            if (state_ == State::ToolCall) {
                toolBody_ += tag; // inside arguments an end tag is only text
                return;
            }
            endSeen_ = true;
            return;
        }
    }
    if (tag == kChannelOpen) {
        if (state_ == State::Answer) state_ = State::ChannelName;
        if (state_ == State::ToolCall) toolBody_ += tag;
    } else if (tag == kChannelClose) {
        if (state_ == State::Reasoning || state_ == State::ChannelName) state_ = State::Answer;
        if (state_ == State::ToolCall) toolBody_ += tag;
        // In the answer it is a stray closing tag: dropped.
    } else if (tag == kToolCallOpen) {
        if (state_ != State::ToolCall) {
            state_ = State::ToolCall; // also ends reasoning the model forgot to close
            toolBody_.clear();
        }
    } else if (tag == kToolCallClose) {
        if (state_ == State::ToolCall) {
            closeToolCall(delta);
            state_ = State::Answer;
        }
    }
}

OutputDelta OutputParser::push(std::string_view text) {
    OutputDelta delta;
    if (result_.ended) return delta;
    held_ += text;
    size_t pos = 0;
    while (pos < held_.size()) {
        const size_t lt = held_.find('<', pos);
        if (lt == std::string::npos) {
            emitText(std::string_view(held_).substr(pos), delta);
            pos = held_.size();
            break;
        }
        emitText(std::string_view(held_).substr(pos, lt - pos), delta);
        pos = lt;
        const std::string_view rest = std::string_view(held_).substr(pos);
        bool matched = false, couldBeTag = false;
        for (std::string_view tag : kAllTags) {
            if (rest.substr(0, tag.size()) == tag) {
                pos += tag.size();
                handleTag(tag, delta);
                matched = true;
                break;
            }
            if (rest.size() < tag.size() && tag.substr(0, rest.size()) == rest) couldBeTag = true;
        }
        if (endSeen_) {
            held_.clear(); // anything after the end of the turn is not part of it
            append(delta, finish());
            return delta;
        }
        if (matched) continue;
        if (couldBeTag) break; // wait for more text to decide
        emitText(rest.substr(0, 1), delta);
        ++pos;
    }
    held_.erase(0, pos);
    return delta;
}

OutputDelta OutputParser::finish() {
    OutputDelta delta;
    if (result_.ended) return delta;
    // Whatever was held back as a possible tag start is plain text now.
    std::string rest;
    rest.swap(held_);
    emitText(rest, delta);
    result_.ended = true;
    if (state_ == State::ChannelName || state_ == State::Reasoning) result_.reasoningUnterminated = true;
    if (state_ == State::ToolCall) {
        result_.toolCallUnterminated = true;
        ParsedToolCall call = parseToolCall(toolBody_);
        if (call.valid) {
            result_.toolCalls.push_back(call);
            delta.toolCalls.push_back(std::move(call));
        }
        toolBody_.clear();
    }
    return delta;
}

TokenOutputParser::TokenOutputParser(const tokenizer::Vocab& vocab) : vocab_(vocab), detokenizer_(vocab) {}

OutputDelta TokenOutputParser::push(tokenizer::TokenId id) {
    if (parser_.result().ended) return {};
    if (vocab_.isEndOfGeneration(id)) return finish();
    return parser_.push(detokenizer_.push(id)); // control tokens detokenize to nothing
}

OutputDelta TokenOutputParser::finish() {
    OutputDelta delta = parser_.push(detokenizer_.flush());
    append(delta, parser_.finish());
    return delta;
}

} // namespace ocelle::chat
