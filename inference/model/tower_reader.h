// Reading an encoder tower (vision or audio) out of an mmproj file: its keys, its tensors checked
// against the expected shapes, and Gemma 4's clamped linears, failing with messages that name the
// file, the tower and the key or tensor. The matrices are used in place (views into the mapping).
#pragma once

#include "gguf/gguf.h"
#include "model/layer_plan.h"

#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <string>
#include <vector>

namespace ocelle::model {

// A linear layer whose input and output are clamped by the file's scalars (`<name>.input_min`
// ... `.output_max`, each optional; infinite when absent), as Gemma 4's clippable linears are.
struct ClampedLinear {
    Weight weight;
    float inputMin = -std::numeric_limits<float>::infinity(),
          inputMax = std::numeric_limits<float>::infinity();
    float outputMin = -std::numeric_limits<float>::infinity(),
          outputMax = std::numeric_limits<float>::infinity();
    bool inputClamped() const { return std::isfinite(inputMin) || std::isfinite(inputMax); }
    bool outputClamped() const { return std::isfinite(outputMin) || std::isfinite(outputMax); }
    bool clamped() const { return inputClamped() || outputClamped(); }
};

class TowerReader {
public:
    // `tower` names the tower in messages ("vision", "audio"); `raise` throws the caller's error
    // type with the whole message.
    using Raise = void (*)(const std::string& message);
    TowerReader(const gguf::File& file, std::string tower, Raise raise)
        : file_(file), tower_(std::move(tower)), raise_(raise) {}

    [[noreturn]] void fail(const std::string& message) const;

    // A required integer key in 1..max.
    int positiveKey(const std::string& key, int64_t max = 1 << 20) const;
    // An optional array of three finite floats (positive ones when `positive`); untouched when absent.
    void triple(const std::string& key, float (&into)[3], bool positive) const;

    // The tensor `name` with these leading dimensions (ggml order).
    const gguf::TensorInfo& tensor(const std::string& name, std::initializer_list<int64_t> shape) const;
    // A small tensor dequantized to fp32, all values finite.
    std::vector<float> floats(const std::string& name, std::initializer_list<int64_t> shape) const;
    // A matrix of `rows` rows of `cols` inputs, used in place; `shape` is the stored ggml shape (a
    // convolution kernel is 4-D, everything else {cols, rows}).
    Weight matrix(const std::string& name, int64_t cols, int64_t rows,
                  std::initializer_list<int64_t> shape) const;
    Weight matrix(const std::string& name, int64_t cols, int64_t rows) const {
        return matrix(name, cols, rows, {cols, rows});
    }
    // `prefix.weight` plus its optional clamp scalars.
    ClampedLinear clamped(const std::string& prefix, int64_t cols, int64_t rows) const;

private:
    const gguf::File& file_;
    std::string tower_;
    Raise raise_;
};

} // namespace ocelle::model
