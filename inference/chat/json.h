// A small, strict JSON reader and writer (RFC 8259) for chat requests and tool arguments.
//
// Written for Ocelle rather than pulled in: the engine needs only a document tree, objects that
// keep their key order (tool schemas are rendered in a defined order), exact number literals
// (so "1.50" is passed on as written) and error messages with line and column. Input is limited
// in nesting depth so that hostile documents cannot exhaust the stack.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ocelle::chat::json {

class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

enum class Type { Null, Bool, Number, String, Array, Object };

class Value {
public:
    Value() = default; // null
    static Value boolean(bool b);
    static Value number(double n);
    // A number with its literal text kept (must be valid JSON number syntax).
    static Value number(double n, std::string literal);
    static Value string(std::string s);
    static Value array(std::vector<Value> items = {});
    static Value object(std::vector<std::pair<std::string, Value>> members = {});

    Type type() const { return type_; }
    bool isNull() const { return type_ == Type::Null; }
    bool isBool() const { return type_ == Type::Bool; }
    bool isNumber() const { return type_ == Type::Number; }
    bool isString() const { return type_ == Type::String; }
    bool isArray() const { return type_ == Type::Array; }
    bool isObject() const { return type_ == Type::Object; }

    // Accessors throw json::Error when the value has another type.
    bool asBool() const;
    double asNumber() const;
    const std::string& numberLiteral() const; // the number as written (or as we would write it)
    bool isInteger() const;                   // a number written without fraction or exponent
    const std::string& asString() const;
    const std::vector<Value>& items() const;
    std::vector<Value>& items();
    const std::vector<std::pair<std::string, Value>>& members() const;

    // Object look-up (the last member of that name, as JavaScript reads duplicates); nullptr
    // when absent or when this is not an object.
    const Value* find(std::string_view key) const;
    // Adds or replaces a member (this must be an object) / appends an item (an array).
    void set(std::string key, Value value);
    void push(Value value);

    // Python-like truthiness, which chat templates rely on: null, false, 0, "" and empty
    // containers are false.
    bool truthy() const;

    bool operator==(const Value& other) const;

private:
    Type type_ = Type::Null;
    bool bool_ = false;
    double number_ = 0;
    std::string text_; // string value or number literal
    std::vector<Value> items_;
    std::vector<std::pair<std::string, Value>> members_;
};

// Parses one JSON document (surrounding whitespace allowed). Throws json::Error with the line,
// column and what was expected.
Value parse(std::string_view text, size_t maxDepth = 128);

// Compact JSON text. Strings are written as UTF-8 with only the escapes JSON requires.
std::string serialize(const Value& value);
// Just a quoted, escaped JSON string.
std::string quote(std::string_view text);

} // namespace ocelle::chat::json
