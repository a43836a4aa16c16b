// bench_vision: encode time of Gemma 4's vision encoder per token budget and backend (CPU, Vulkan),
// on a random-weight tower of E2B/E4B's real shape (768 wide, 16 layers, 12 heads, FFN 3072, F16
// linears, clamp scalars) built in memory, or on an mmproj file given with --mmproj. The image is
// square, so HF's sizing gives floor(sqrt(B))^2 soft tokens at budget B (896x896 -> 256 at 280).
// The Vulkan device is --device X, else the first usable one (lavapipe included).
//
//   bench_vision [--mmproj PATH] [--layers N] [--threads N] [--max-budget B] [--backend cpu|vulkan|both]
//                [--device X]
#include "gguf/gguf.h"
#include "gguf/gguf_writer.h"
#include "vision/vision_encoder.h"
#include "vision/vulkan_vision_encoder.h"

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

constexpr int kWidth = 768, kFfn = 3072, kHeads = 12, kTextWidth = 1536; // E2B
constexpr uint32_t kF32 = 0, kF16 = 1;

std::vector<uint8_t> makeTower(int layers) {
    std::mt19937 rng(11);
    gguf::Writer w;
    w.set("general.architecture", gguf::MetaValue::string("clip"));
    w.set("clip.has_vision_encoder", gguf::MetaValue::boolean(true));
    w.set("clip.vision.projector_type", gguf::MetaValue::string("gemma4v"));
    w.set("clip.vision.embedding_length", gguf::MetaValue::uint32(kWidth));
    w.set("clip.vision.feed_forward_length", gguf::MetaValue::uint32(kFfn));
    w.set("clip.vision.block_count", gguf::MetaValue::uint32(uint32_t(layers)));
    w.set("clip.vision.attention.head_count", gguf::MetaValue::uint32(kHeads));
    w.set("clip.vision.patch_size", gguf::MetaValue::uint32(16));
    w.set("clip.vision.attention.layer_norm_epsilon", gguf::MetaValue::float32(1e-6f));
    const auto add = [&](const std::string& name, std::vector<int64_t> ne, uint32_t type, float scale,
                         float offset) {
        int64_t n = 1;
        for (int64_t d : ne) n *= d;
        std::normal_distribution<float> normal(offset, scale);
        std::vector<float> values(static_cast<size_t>(n));
        for (float& v : values) v = normal(rng);
        w.addTensor(name, std::move(ne), type, values);
    };
    const auto scalar = [&](const std::string& name, float value) {
        w.addTensor(name, {1}, kF32, std::vector<float>{value});
    };
    const auto linear = [&](const std::string& name, int64_t in, int64_t out) {
        add(name + ".weight", {in, out}, kF16, 1.0f / std::sqrt(float(in)), 0);
        scalar(name + ".input_min", -50.0f);
        scalar(name + ".input_max", 50.0f);
        scalar(name + ".output_min", -50.0f);
        scalar(name + ".output_max", 50.0f);
    };
    add("v.patch_embd.weight", {16, 16, 3, kWidth}, kF16, 0.03f, 0);
    add("v.position_embd.weight", {kWidth, 10240, 2}, kF32, 0.1f, 0);
    for (int l = 0; l < layers; ++l) {
        const std::string b = "v.blk." + std::to_string(l) + ".";
        for (const char* norm : {"ln1", "ln2", "attn_post_norm", "ffn_post_norm"})
            add(b + norm + ".weight", {kWidth}, kF32, 0.1f, 1);
        add(b + "attn_q_norm.weight", {kWidth / kHeads}, kF32, 0.1f, 1);
        add(b + "attn_k_norm.weight", {kWidth / kHeads}, kF32, 0.1f, 1);
        for (const char* m : {"attn_q", "attn_k", "attn_v", "attn_out"}) linear(b + m, kWidth, kWidth);
        linear(b + "ffn_gate", kWidth, kFfn);
        linear(b + "ffn_up", kWidth, kFfn);
        linear(b + "ffn_down", kFfn, kWidth);
        scalar(b + "out_scale.weight", 1.0f);
    }
    add("mm.input_projection.weight", {kWidth, kTextWidth}, kF16, 1.0f / std::sqrt(float(kWidth)), 0);
    return w.toBytes();
}

} // namespace

int main(int argc, char** argv) {
    int layers = 16, threads = 0, maxBudget = 1120;
    std::string mmproj, backend = "both", device;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!std::strcmp(argv[i], "--layers"))
            layers = std::max(1, std::atoi(argv[i + 1]));
        else if (!std::strcmp(argv[i], "--threads"))
            threads = std::atoi(argv[i + 1]);
        else if (!std::strcmp(argv[i], "--max-budget"))
            maxBudget = std::atoi(argv[i + 1]);
        else if (!std::strcmp(argv[i], "--mmproj"))
            mmproj = argv[i + 1];
        else if (!std::strcmp(argv[i], "--backend"))
            backend = argv[i + 1];
        else if (!std::strcmp(argv[i], "--device"))
            device = argv[i + 1];
    }
    if (backend != "cpu" && backend != "vulkan" && backend != "both") {
        std::fprintf(stderr, "--backend must be cpu, vulkan or both\n");
        return 2;
    }
    std::vector<uint8_t> bytes;
    if (mmproj.empty()) {
        std::printf("building a random %d-layer vision tower (width %d, F16 linears)...\n", layers, kWidth);
        bytes = makeTower(layers);
    }
    const auto file = [&] {
        return mmproj.empty() ? gguf::File::fromMemory(bytes, "bench-tower") : gguf::File::open(mmproj);
    };
    std::vector<std::unique_ptr<vision::VisionEncoder>> encoders;
    if (backend != "vulkan") encoders.push_back(vision::VisionEncoder::fromFile(file(), threads));
    if (backend != "cpu") {
        if (device.empty()) {
            vulkan::Instance probe(false);
            for (const auto& d : probe.devices())
                if (d.usable()) {
                    device = std::to_string(d.index);
                    break;
                }
        }
        auto vk = vision::VulkanVisionEncoder::fromFile(file(), {.forced = device});
        std::printf("Vulkan device: %s\n", vk->device().info().name.c_str());
        encoders.push_back(std::move(vk));
    }
    const auto& p = encoders.front()->params();
    std::printf("tower: width %d, %d layers, %d heads, projection %d\n", p.width, p.layers, p.heads,
                p.projectionDim);

    std::mt19937 rng(3);
    std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
    std::printf("\n| %6s | %9s | %7s | %6s | %7s | %12s | %13s |\n", "budget", "image", "patches", "tokens",
                "backend", "encode (ms)", "ms per token");
    std::printf("|--------|-----------|---------|--------|---------|--------------|---------------|\n");
    for (int budget : {70, 140, 280, 560, 1120}) {
        if (budget > maxBudget) break;
        const int side = int(std::floor(std::sqrt(double(budget)))) * 48;
        std::vector<float> pixels(size_t(3) * side * side);
        for (float& v : pixels) v = uniform(rng);
        for (const auto& encoder : encoders) {
            double best = 1e30;
            int tokens = 0;
            for (int round = 0; round < (budget <= 280 ? 2 : 1); ++round) {
                const auto start = std::chrono::steady_clock::now();
                tokens = int(encoder->encodePixels(pixels, side, side).size() / size_t(p.projectionDim));
                best = std::min(
                    best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
            }
            const std::string image = std::to_string(side) + "x" + std::to_string(side);
            std::printf("| %6d | %9s | %7d | %6d | %7s | %12.1f | %13.2f |\n", budget, image.c_str(),
                        (side / 16) * (side / 16), tokens, encoder->backendName(), best * 1e3,
                        best * 1e3 / tokens);
            std::fflush(stdout);
        }
    }
    return 0;
}
