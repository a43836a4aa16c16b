// bench_audio: encode time of Gemma 4's audio encoder per second of audio on each backend (CPU and
// Vulkan), on a random-weight tower of E2B/E4B's real shape (1024 wide, 12 conformer layers, F16
// linears) built in memory. The best of two rounds (the first Vulkan round also builds pipelines).
//
//   bench_audio [--layers N] [--threads N] [--backend cpu|vulkan|both] [--device X] [--seconds 1,10,30]
//
// Vulkan: --device X (index or name substring), else the first usable device (CPU-type included,
// so lavapipe is measured here).
#include "audio/audio_encoder.h"
#include "audio/vulkan_audio_encoder.h"
#include "gguf/gguf.h"
#include "gguf/gguf_writer.h"
#include "gguf/tensor_types.h"
#include "vulkan/device.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

using namespace ocelle;

namespace {

constexpr int kWidth = 1024, kFfn = 4096, kHeads = 8, kMel = 128, kC0 = 128, kC1 = 32, kOut = 1536;
constexpr int kTextWidth = 1536; // E2B
constexpr uint32_t kF32 = 0, kF16 = 1;

std::vector<uint8_t> makeTower(int layers) {
    std::mt19937 rng(7);
    gguf::Writer w;
    w.set("general.architecture", gguf::MetaValue::string("clip"));
    w.set("clip.has_audio_encoder", gguf::MetaValue::boolean(true));
    w.set("clip.audio.projector_type", gguf::MetaValue::string("gemma4a"));
    w.set("clip.audio.num_mel_bins", gguf::MetaValue::uint32(kMel));
    w.set("clip.audio.embedding_length", gguf::MetaValue::uint32(kWidth));
    w.set("clip.audio.feed_forward_length", gguf::MetaValue::uint32(kFfn));
    w.set("clip.audio.block_count", gguf::MetaValue::uint32(uint32_t(layers)));
    w.set("clip.audio.attention.head_count", gguf::MetaValue::uint32(kHeads));
    w.set("clip.audio.projection_dim", gguf::MetaValue::uint32(kTextWidth));
    const auto add = [&](const std::string& name, std::vector<int64_t> ne, uint32_t type, float scale,
                         float offset) {
        int64_t n = 1;
        for (int64_t d : ne) n *= d;
        std::normal_distribution<float> normal(offset, scale);
        std::vector<float> values(static_cast<size_t>(n));
        for (float& v : values) v = normal(rng);
        w.addTensor(name, std::move(ne), type, values);
    };
    const auto linear = [&](const std::string& name, int64_t in, int64_t out) {
        add(name + ".weight", {in, out}, kF16, 1.0f / std::sqrt(float(in)), 0);
    };
    add("a.conv1d.0.weight", {3, 3, 1, kC0}, kF32, 0.3f, 0);
    add("a.conv1d.0.norm.weight", {kC0}, kF32, 0.1f, 1);
    add("a.conv1d.1.weight", {3, 3, kC0, kC1}, kF32, 0.03f, 0);
    add("a.conv1d.1.norm.weight", {kC1}, kF32, 0.1f, 1);
    add("a.input_projection.weight", {kC1 * (kMel / 4), kWidth}, kF32, 0.03f, 0);
    for (int l = 0; l < layers; ++l) {
        const std::string b = "a.blk." + std::to_string(l) + ".";
        for (const char* norm : {"ffn_norm", "ffn_post_norm", "attn_pre_norm", "attn_post_norm", "conv_norm",
                                 "norm_conv", "ffn_norm_1", "ffn_post_norm_1", "ln2"})
            add(b + norm + ".weight", {kWidth}, kF32, 0.1f, 1);
        linear(b + "ffn_up", kWidth, kFfn);
        linear(b + "ffn_down", kFfn, kWidth);
        linear(b + "ffn_up_1", kWidth, kFfn);
        linear(b + "ffn_down_1", kFfn, kWidth);
        for (const char* m : {"attn_q", "attn_k", "attn_v", "attn_out", "attn_k_rel", "conv_pw2"})
            linear(b + m, kWidth, kWidth);
        linear(b + "conv_pw1", kWidth, 2 * kWidth);
        add(b + "per_dim_scale.weight", {kWidth / kHeads}, kF32, 0.1f, 1);
        add(b + "conv_dw.weight", {5, kWidth}, kF32, 0.3f, 0);
    }
    linear("a.pre_encode.out", kWidth, kOut);
    add("a.pre_encode.out.bias", {kOut}, kF32, 0.1f, 0);
    linear("mm.a.input_projection", kOut, kTextWidth);
    return w.toBytes();
}

std::unique_ptr<vulkan::Device> openDevice(const std::string& forced) {
    vulkan::DeviceOptions options;
    options.validation = false;
    options.forced = forced;
    if (forced.empty()) {
        vulkan::Instance probe(false);
        for (const auto& d : probe.devices())
            if (d.usable()) {
                options.forced = std::to_string(d.index);
                break;
            }
    }
    return vulkan::Device::open(options);
}

} // namespace

int main(int argc, char** argv) {
    std::setvbuf(stdout, nullptr, _IOLBF, 0); // rows appear as they are measured
    int layers = 12, threads = 0;
    std::string backend = "both", device;
    std::vector<double> lengths{1.0, 10.0, 30.0};
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!std::strcmp(argv[i], "--layers"))
            layers = std::max(1, std::atoi(argv[i + 1]));
        else if (!std::strcmp(argv[i], "--threads"))
            threads = std::atoi(argv[i + 1]);
        else if (!std::strcmp(argv[i], "--backend"))
            backend = argv[i + 1];
        else if (!std::strcmp(argv[i], "--device"))
            device = argv[i + 1];
        else if (!std::strcmp(argv[i], "--seconds")) {
            lengths.clear();
            for (const char* p = argv[i + 1]; *p;) {
                char* end = nullptr;
                const double v = std::strtod(p, &end);
                if (end == p || !(v > 0 && v <= 30)) {
                    std::fprintf(stderr,
                                 "bench_audio: --seconds takes lengths in (0, 30], comma-separated\n");
                    return 2;
                }
                lengths.push_back(v);
                p = *end == ',' ? end + 1 : end;
            }
        }
    }
    if (backend != "cpu" && backend != "vulkan" && backend != "both") {
        std::fprintf(stderr, "bench_audio: --backend must be cpu, vulkan or both\n");
        return 2;
    }
    std::printf("building a random %d-layer audio tower (width %d, F16 linears)...\n", layers, kWidth);
    const std::vector<uint8_t> bytes = makeTower(layers);
    std::vector<std::unique_ptr<audio::AudioEncoder>> encoders;
    if (backend != "vulkan")
        encoders.push_back(
            audio::AudioEncoder::fromFile(gguf::File::fromMemory(bytes, "bench-tower"), threads));
    if (backend != "cpu") {
        try {
            encoders.push_back(audio::VulkanAudioEncoder::fromFile(
                gguf::File::fromMemory(bytes, "bench-tower"), openDevice(device)));
        } catch (const std::exception& e) {
            std::fprintf(stderr, "bench_audio: no Vulkan encoder: %s\n", e.what());
            if (backend == "vulkan") return 1;
        }
    }

    std::mt19937 rng(3);
    std::normal_distribution<float> normal(-4.0f, 2.0f);
    std::printf("\n%-44s %10s %8s %12s %18s %14s\n", "backend", "audio (s)", "tokens", "encode (ms)",
                "ms per s of audio", "x real time");
    for (const auto& encoder : encoders) {
        for (double seconds : lengths) {
            const int frames = int(seconds * 100) - 1; // 10 ms hop
            std::vector<float> mel(size_t(kMel) * size_t(frames));
            for (float& v : mel) v = normal(rng);
            double best = 1e30;
            int tokens = 0;
            for (int round = 0; round < 2; ++round) {
                const auto start = std::chrono::steady_clock::now();
                tokens = int(encoder->encode(mel, frames).size() / kTextWidth);
                best = std::min(
                    best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
            }
            std::printf("%-44s %10.1f %8d %12.1f %18.1f %14.1f\n", encoder->backendName().c_str(), seconds,
                        tokens, best * 1e3, best * 1e3 / seconds, seconds / best);
        }
    }
    return 0;
}
