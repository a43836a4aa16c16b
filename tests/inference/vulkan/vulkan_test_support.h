// Shared by the Vulkan tests: opening a device (any usable one, CPU-type included: tests run on
// lavapipe), validation on when the layer is installed, random weights of every GGUF type, and
// double-precision references built from gguf::dequantizeRow on the same bytes.
#pragma once

#include "gguf/dequant.h"
#include "gguf/tensor_types.h"
#include "vulkan/kernels.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace ocelle::vulkan::testing {

using gguf::TensorType;

inline const std::vector<TensorType>& allWeightTypes() {
    static const std::vector<TensorType> types{TensorType::F32,  TensorType::F16,  TensorType::BF16,
                                               TensorType::Q8_0, TensorType::Q4_0, TensorType::Q4_K,
                                               TensorType::Q5_K, TensorType::Q6_K};
    return types;
}

inline uint32_t blockElements(TensorType t) {
    return gguf::typeTraits(uint32_t(t))->blockElements;
}
inline uint64_t rowBytes(TensorType t, uint64_t k) {
    const auto traits = *gguf::typeTraits(uint32_t(t));
    return k / traits.blockElements * traits.blockBytes;
}

// A fresh seed per run unless OCELLE_TEST_SEED repeats one.
inline uint32_t testSeed() {
    if (const char* env = std::getenv("OCELLE_TEST_SEED"); env && *env)
        return uint32_t(std::strtoul(env, nullptr, 10));
    return std::random_device{}();
}

// Opens the automatic choice, or else the first usable device (lavapipe here). Returns null with
// `why` set when Vulkan or a usable device is missing.
inline std::unique_ptr<Device> openTestDevice(std::string& why) {
    // Validation on in tests when the layer exists (Instance says so on stderr when it does not).
    setenv("OCELLE_VULKAN_VALIDATION", "1", 0);
    try {
        Instance probe(false);
        const auto devices = probe.devices();
        DeviceOptions options;
        DeviceChoice choice = chooseDevice(devices);
        if (!choice.index) {
            for (const auto& d : devices)
                if (d.usable()) {
                    options.forced = std::to_string(d.index);
                    break;
                }
            if (options.forced.empty()) {
                why = "no usable Vulkan device: " + choice.reason;
                return nullptr;
            }
        }
        return Device::open(options);
    } catch (const VulkanError& e) {
        why = e.what();
        return nullptr;
    }
}

// Random weights as GGUF bytes: F32/F16/BF16/Q8_0/Q4_0 through gguf::quantizeRow, K-quants as
// random valid blocks (small positive fp16 scales, random packed scales and quants).
inline std::vector<uint8_t> randomWeights(TensorType type, uint64_t rows, uint64_t k, std::mt19937& rng) {
    const uint64_t bytesPerRow = rowBytes(type, k);
    std::vector<uint8_t> data(rows * bytesPerRow);
    std::uniform_real_distribution<float> uni(-1.0f, 1.0f);
    std::uniform_int_distribution<int> byte(0, 255);
    auto putHalf = [&](uint8_t* p, float v) {
        const uint16_t h = gguf::floatToFp16(v);
        std::memcpy(p, &h, 2);
    };
    switch (type) {
    case TensorType::F32:
    case TensorType::F16:
    case TensorType::BF16:
    case TensorType::Q8_0:
    case TensorType::Q4_0: {
        std::vector<float> row(k);
        for (uint64_t r = 0; r < rows; ++r) {
            for (auto& v : row) v = uni(rng);
            gguf::quantizeRow(uint32_t(type), row.data(), data.data() + r * bytesPerRow, int64_t(k));
        }
        break;
    }
    case TensorType::Q4_K:
    case TensorType::Q5_K: {
        const uint64_t blockBytes = type == TensorType::Q4_K ? 144 : 176;
        for (uint64_t b = 0; b < data.size() / blockBytes; ++b) {
            uint8_t* block = data.data() + b * blockBytes;
            for (uint64_t i = 4; i < blockBytes; ++i) block[i] = uint8_t(byte(rng));
            putHalf(block, 0.001f + 0.01f * std::abs(uni(rng)));
            putHalf(block + 2, 0.01f * std::abs(uni(rng)));
        }
        break;
    }
    case TensorType::Q6_K:
        for (uint64_t b = 0; b < data.size() / 210; ++b) {
            uint8_t* block = data.data() + b * 210;
            for (int i = 0; i < 192; ++i) block[i] = uint8_t(byte(rng));
            for (int i = 192; i < 208; ++i) block[i] = uint8_t(int8_t(byte(rng) / 2 - 64));
            putHalf(block + 208, 0.0005f + 0.005f * std::abs(uni(rng)));
        }
        break;
    default:
        break;
    }
    return data;
}

inline std::vector<float> dequantized(TensorType type, const std::vector<uint8_t>& data, uint64_t rows,
                                      uint64_t k) {
    std::vector<float> out(rows * k);
    const uint64_t bytesPerRow = rowBytes(type, k);
    for (uint64_t r = 0; r < rows; ++r)
        gguf::dequantizeRow(uint32_t(type), data.data() + r * bytesPerRow, out.data() + r * k, int64_t(k));
    return out;
}

inline std::vector<float> randomFloats(size_t n, std::mt19937& rng, float lo = -1.0f, float hi = 1.0f) {
    std::uniform_real_distribution<float> dist(lo, hi);
    std::vector<float> v(n);
    for (auto& x : v) x = dist(rng);
    return v;
}

template <typename T> std::unique_ptr<Buffer> uploadVector(Device& device, const std::vector<T>& data) {
    auto buffer = std::make_unique<Buffer>(device, std::max<uint64_t>(data.size() * sizeof(T), 16));
    upload(device, *buffer, 0, data.data(), data.size() * sizeof(T));
    return buffer;
}

template <typename T = float>
std::vector<T> readVector(Device& device, const Buffer& buffer, size_t n, size_t offset = 0) {
    std::vector<T> out(n);
    download(device, buffer, offset * sizeof(T), out.data(), n * sizeof(T));
    return out;
}

// First index where |got - want| > tol * scale + absTol, or -1.
inline long firstMismatch(const std::vector<float>& got, const std::vector<double>& want,
                          const std::vector<double>& scale, double tol, double absTol = 1e-30) {
    if (got.size() != want.size()) return 0;
    for (size_t i = 0; i < got.size(); ++i) {
        const double err = std::abs(double(got[i]) - want[i]);
        if (!(err <= tol * scale[i] + absTol)) return long(i);
    }
    return -1;
}

inline std::string mismatchText(long i, const std::vector<float>& got, const std::vector<double>& want,
                                uint32_t seed) {
    if (i < 0 || size_t(i) >= got.size() || size_t(i) >= want.size()) return "no mismatch";
    return "index " + std::to_string(i) + ": got " + std::to_string(got[size_t(i)]) + ", want " +
           std::to_string(want[size_t(i)]) + " (seed " + std::to_string(seed) +
           ", rerun with OCELLE_TEST_SEED)";
}

} // namespace ocelle::vulkan::testing
