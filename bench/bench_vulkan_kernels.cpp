// bench_vulkan_kernels: the Vulkan kernels' speed on one device, as tables (not a test).
//
//   bench_vulkan_kernels [--device INDEX|NAME] [--reps N] [--rows R --cols K] [--wg N --rows-per-wg N]
//                        [--types q4_0,q8_0,...] [--no-subgroups] [--rows-per-lane N]
//                        [--integer-dot on|off] [--gpu-layout]
//
// Prints the streaming-read bandwidth of the device (the decode roofline), matvec throughput per
// weight type in GB/s of weights read (and as a fraction of that bandwidth), matmul GFLOP/s for a
// prefill batch, the decode FFN input split (2 matvecs + geglu) against fused (matvecGeglu), and the
// fixed cost of one tiny dispatch. A CPU-type device (lavapipe) is used when
// it is the only one, since this is a measurement, not the automatic backend choice.
#include "gguf/dequant.h"
#include "gguf/tensor_types.h"
#include "vulkan/kernels.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <time.h>
#include <vector>

using namespace ocelle::vulkan;
using ocelle::gguf::TensorType;

namespace {

struct Options {
    std::string device;
    int reps = 5;
    uint32_t rows = 6144; // Gemma 4 E2B FFN gate/up: 6144 x 1536
    uint32_t cols = 1536;
    uint32_t prefill = 128;
    uint32_t wg = 0;
    uint32_t rowsPerWg = 0;
    uint32_t rowsPerLane = 0;
    std::string types; // comma-separated weight type names; empty: all
    bool noSubgroups = false;
    std::string integerDot; // on|off; empty: the device's default (OCELLE_VULKAN_INTEGER_DOT)
    bool gpuLayout = false; // the GPU kernels (matvec.comp, tiled matmul) also on a CPU-type device
};

double seconds() {
    using namespace std::chrono;
    return duration<double>(steady_clock::now().time_since_epoch()).count();
}

std::vector<uint8_t> randomWeights(TensorType type, uint64_t rows, uint64_t k, std::mt19937& rng) {
    const auto traits = *ocelle::gguf::typeTraits(uint32_t(type));
    const uint64_t rowBytes = k / traits.blockElements * traits.blockBytes;
    std::vector<uint8_t> data(rows * rowBytes);
    std::uniform_int_distribution<int> byte(0, 255);
    for (auto& b : data) b = uint8_t(byte(rng));
    // Make every fp16/bf16 scale or value finite and small: rewrite whole rows of floats through the
    // quantizer where one exists, patch K-quant scales otherwise.
    if (ocelle::gguf::canQuantize(uint32_t(type))) {
        std::uniform_real_distribution<float> uni(-1.0f, 1.0f);
        std::vector<float> row(k);
        for (uint64_t r = 0; r < rows; ++r) {
            for (auto& v : row) v = uni(rng);
            ocelle::gguf::quantizeRow(uint32_t(type), row.data(), data.data() + r * rowBytes, int64_t(k));
        }
    } else {
        const uint16_t small = ocelle::gguf::floatToFp16(0.01f);
        for (uint64_t b = 0; b < data.size() / traits.blockBytes; ++b) {
            uint8_t* block = data.data() + b * traits.blockBytes;
            if (type == TensorType::Q6_K)
                std::memcpy(block + 208, &small, 2);
            else {
                std::memcpy(block, &small, 2);
                std::memcpy(block + 2, &small, 2);
            }
        }
    }
    return data;
}

// CPU time of the whole process (a CPU-type device's worker threads included): on a loaded machine
// a steadier measure of a CPU device's work than the wall clock.
double processSeconds() {
    timespec t{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
}

// Runs `record` reps times (each a full command buffer) after one warm-up; returns the best wall
// time, and the least process CPU time in *cpu when given.
template <typename F> double best(Recorder& rec, int reps, F&& record, double* cpu = nullptr) {
    rec.begin();
    record();
    rec.submitAndWait();
    double fastest = 1e30, leastCpu = 1e30;
    for (int i = 0; i < reps; ++i) {
        const double t0 = seconds(), c0 = processSeconds();
        rec.begin();
        record();
        rec.submitAndWait();
        fastest = std::min(fastest, seconds() - t0);
        leastCpu = std::min(leastCpu, processSeconds() - c0);
    }
    if (cpu) *cpu = leastCpu;
    return fastest;
}

int run(const Options& o) {
    DeviceOptions deviceOptions;
    deviceOptions.forced = o.device;
    deviceOptions.validation = false;
    std::unique_ptr<Device> device;
    try {
        device = Device::open(deviceOptions);
    } catch (const VulkanError& e) {
        // Only CPU devices: measure the first usable one anyway.
        Instance probe(false);
        for (const auto& d : probe.devices())
            if (d.usable() && deviceOptions.forced.empty()) deviceOptions.forced = std::to_string(d.index);
        if (deviceOptions.forced.empty()) {
            std::fprintf(stderr, "bench_vulkan_kernels: %s\n", e.what());
            return 1;
        }
        device = Device::open(deviceOptions);
    }
    const auto& f = device->features();
    std::printf("device: %s (%s), subgroup %u, max binding %llu MiB\n", device->info().name.c_str(),
                deviceTypeName(device->info().type), f.subgroupSize,
                static_cast<unsigned long long>(f.maxStorageBufferRange >> 20));
    Pipelines pipelines(*device);
    KernelTuning tuning;
    tuning.matvecWorkgroup = o.wg;
    tuning.matvecRows = o.rowsPerWg;
    tuning.useSubgroups = !o.noSubgroups;
    tuning.rowsPerLane = o.rowsPerLane;
    if (!o.integerDot.empty()) tuning.integerDot = o.integerDot == "on";
    if (o.gpuLayout) tuning.rowPerInvocation = false;
    Kernels kernels(pipelines, tuning);
    std::printf("integer dot product: %s (device: %s, 4x8-bit packed signed %saccelerated); Q4_0/Q8_0 "
                "activations %s\n",
                kernels.integerDot() ? "on" : "off", f.integerDotProduct ? "yes" : "no",
                f.integerDotProductAccelerated ? "" : "not ",
                kernels.integerDot() ? "rounded to 8 bits, integer dot products" : "fp32");
    if (kernels.tuning().rowPerInvocation.value_or(false))
        std::printf("matvec: one row per invocation (CPU-type device), workgroup %u, activations %s; prefill "
                    "8 tokens per pass\n\n",
                    kernels.tuning().matvecWorkgroup,
                    kernels.laneBroadcast() ? "by lane broadcast" : "loaded by every lane");
    else
        std::printf(
            "matvec tuning: workgroup %u, rows per workgroup %u, %s reduction; prefill 64x%u tiles\n\n",
            kernels.tuning().matvecWorkgroup, kernels.tuning().matvecRows,
            kernels.tuning().useSubgroups ? "subgroup" : "shared-memory",
            device->features().maxSharedMemory >= 20 * 1024 ? 64u : 32u);
    Recorder rec(pipelines);
    std::mt19937 rng(1234);

    // Streaming read: the largest bindable buffer, read 4 times per command buffer.
    const uint64_t probeBytes = std::min<uint64_t>(device->maxBindingBytes(), 256ull << 20) / 16 * 16;
    Buffer source(*device, probeBytes), sink(*device, 1 << 16);
    {
        std::vector<uint32_t> fill(probeBytes / 4);
        for (auto& v : fill) v = uint32_t(rng());
        upload(*device, source, 0, fill.data(), probeBytes);
    }
    const int passes = 4;
    const double tRead = best(rec, o.reps, [&] {
        for (int i = 0; i < passes; ++i) kernels.readAll(rec, source, sink, 256);
    });
    const double bandwidth = double(probeBytes) * passes / tRead / 1e9;
    std::printf("| probe                 | bytes      | time (ms) | GB/s   |\n");
    std::printf("|-----------------------|-----------:|----------:|-------:|\n");
    std::printf("| bandwidth (stream read)| %10llu | %9.3f | %6.2f |\n\n",
                static_cast<unsigned long long>(probeBytes * passes), tRead * 1e3, bandwidth);

    // Dispatch overhead: many tiny dependent dispatches.
    Buffer tiny(*device, 4096);
    const int tinyCount = 200;
    const double tTiny = best(rec, o.reps, [&] {
        for (int i = 0; i < tinyCount; ++i) kernels.softcap(rec, at(tiny), 64, 30.0f);
    });
    std::printf("dependent tiny dispatch: %.1f us each (%d per command buffer)\n\n", tTiny / tinyCount * 1e6,
                tinyCount);

    std::printf("matvec %u x %u (decode), matmul with %u tokens (prefill)\n", o.rows, o.cols, o.prefill);
    std::printf("(CPU ms: process CPU time, all device threads; on a CPU-type device steadier than wall time "
                "under load)\n");
    std::printf(
        "| type | weights (MiB) | matvec (ms) | matvec CPU ms | matvec GB/s | of bandwidth | matmul (ms) "
        "| matmul CPU ms | matmul GFLOP/s |\n");
    std::printf(
        "|------|--------------:|------------:|--------------:|------------:|-------------:|------------:"
        "|--------------:|---------------:|\n");
    const TensorType types[] = {TensorType::F32,  TensorType::F16,  TensorType::BF16, TensorType::Q8_0,
                                TensorType::Q4_0, TensorType::Q4_K, TensorType::Q5_K, TensorType::Q6_K};
    std::vector<float> x(size_t(o.prefill) * o.cols);
    std::uniform_real_distribution<float> uni(-1.0f, 1.0f);
    for (auto& v : x) v = uni(rng);
    Buffer bx(*device, x.size() * 4), by(*device, size_t(o.prefill) * o.rows * 4);
    Buffer bu(*device, size_t(o.rows) * 4); // the up product of the unfused FFN input
    std::vector<std::string> ffnRows;
    upload(*device, bx, 0, x.data(), x.size() * 4);
    for (TensorType type : types) {
        const std::string name = ocelle::gguf::typeTraits(uint32_t(type))->name;
        std::string lower;
        for (char ch : name) lower += char(std::tolower(static_cast<unsigned char>(ch)));
        if (!o.types.empty() && ("," + o.types + ",").find("," + lower + ",") == std::string::npos) continue;
        const auto bytes = randomWeights(type, o.rows, o.cols, rng);
        auto w = WeightTensor::upload(*device, uint32_t(type), o.rows, o.cols, bytes.data());
        const int perBuffer = 8; // as in a token: many matvecs per command buffer
        double cMv = 0, cMm = 0;
        const double tMv = best(
                               rec, o.reps,
                               [&] {
                                   for (int i = 0; i < perBuffer; ++i)
                                       kernels.matvec(rec, *w, at(bx), at(by));
                               },
                               &cMv) /
                           perBuffer;
        cMv /= perBuffer;
        const double tMm = best(
            rec, std::max(1, o.reps / 2), [&] { kernels.matmul(rec, *w, at(bx), at(by), o.prefill); }, &cMm);
        const double gb = double(w->totalBytes()) / tMv / 1e9;
        std::printf("| %-4s | %13.2f | %11.3f | %13.3f | %11.2f | %11.0f%% | %11.2f | %13.2f | %14.2f |\n",
                    name.c_str(), double(w->totalBytes()) / (1 << 20), tMv * 1e3, cMv * 1e3, gb,
                    100.0 * gb / bandwidth, tMm * 1e3, cMm * 1e3,
                    2.0 * o.rows * o.cols * o.prefill / tMm / 1e9);

        // The decode FFN input with this matrix as gate and a second one as up: two matvecs + geglu
        // against Kernels::matvecGeglu (one dispatch).
        const auto upBytes = randomWeights(type, o.rows, o.cols, rng);
        auto up = WeightTensor::upload(*device, uint32_t(type), o.rows, o.cols, upBytes.data());
        double cSplit = 0, cFused = 0;
        const double tSplit = best(
                                  rec, o.reps,
                                  [&] {
                                      for (int i = 0; i < perBuffer; ++i) {
                                          kernels.matvec(rec, *w, at(bx), at(by));
                                          kernels.matvec(rec, *up, at(bx), at(bu));
                                          kernels.geglu(rec, at(by), at(bu), at(by), o.rows);
                                      }
                                  },
                                  &cSplit) /
                              perBuffer;
        const double tFused = best(
                                  rec, o.reps,
                                  [&] {
                                      for (int i = 0; i < perBuffer; ++i)
                                          kernels.matvecGeglu(rec, *w, *up, at(bx), at(by));
                                  },
                                  &cFused) /
                              perBuffer;
        char line[256];
        std::snprintf(line, sizeof line, "| %-4s | %9.3f | %11.3f | %9.3f | %11.3f |\n", name.c_str(),
                      tSplit * 1e3, cSplit / perBuffer * 1e3, tFused * 1e3, cFused / perBuffer * 1e3);
        ffnRows.push_back(line);
    }
    std::printf("\nFFN input gelu(gate . x) * (up . x), decode, %u x %u each: matvec + matvec + geglu "
                "(3 dispatches) vs matvecGeglu (1)\n",
                o.rows, o.cols);
    std::printf("| type | split (ms) | split CPU ms | fused (ms) | fused CPU ms |\n");
    std::printf("|------|-----------:|------------:|-----------:|-------------:|\n");
    for (const auto& line : ffnRows) std::printf("%s", line.c_str());
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "%s needs a value\n", a.c_str());
                std::exit(2);
            }
            return argv[++i];
        };
        if (a == "--device")
            o.device = next();
        else if (a == "--reps")
            o.reps = std::max(1, std::atoi(next().c_str()));
        else if (a == "--rows")
            o.rows = uint32_t(std::atoi(next().c_str()));
        else if (a == "--cols")
            o.cols = uint32_t(std::atoi(next().c_str()));
        else if (a == "--prefill")
            o.prefill = uint32_t(std::atoi(next().c_str()));
        else if (a == "--wg")
            o.wg = uint32_t(std::atoi(next().c_str()));
        else if (a == "--rows-per-wg")
            o.rowsPerWg = uint32_t(std::atoi(next().c_str()));
        else if (a == "--rows-per-lane")
            o.rowsPerLane = uint32_t(std::atoi(next().c_str()));
        else if (a == "--types")
            o.types = next();
        else if (a == "--no-subgroups")
            o.noSubgroups = true;
        else if (a == "--integer-dot")
            o.integerDot = next();
        else if (a == "--gpu-layout")
            o.gpuLayout = true;
        else {
            std::fprintf(
                stderr, "usage: bench_vulkan_kernels [--device INDEX|NAME] [--reps N] [--rows R] [--cols K]\n"
                        "                            [--prefill N] [--wg N] [--rows-per-wg N]\n"
                        "                            [--types q4_0,q8_0,...] [--no-subgroups]\n"
                        "                            [--rows-per-lane N] [--integer-dot on|off]\n"
                        "                            [--gpu-layout]\n");
            return a == "--help" ? 0 : 2;
        }
    }
    if (o.cols % 256 != 0 || o.rows == 0) {
        std::fprintf(stderr, "--cols must be a multiple of 256 (K-quant blocks) and --rows positive\n");
        return 2;
    }
    try {
        return run(o);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_vulkan_kernels: %s\n", e.what());
        return 1;
    }
}
