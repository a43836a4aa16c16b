// `ocelle-cli devices`: the Vulkan devices on this machine, what they support, and which one the
// automatic choice picks (and why).
#include "command.h"

#include "vulkan/device.h"

#include <cstdio>

namespace {

using namespace ocelle::vulkan;

std::string gib(uint64_t bytes) {
    char text[32];
    if (bytes >= (1ull << 30))
        std::snprintf(text, sizeof text, "%.1f GiB", double(bytes) / double(1ull << 30));
    else
        std::snprintf(text, sizeof text, "%llu MiB", static_cast<unsigned long long>(bytes >> 20));
    return text;
}

std::string version(uint32_t v) {
    return std::to_string(VK_API_VERSION_MAJOR(v)) + "." + std::to_string(VK_API_VERSION_MINOR(v)) + "." +
           std::to_string(VK_API_VERSION_PATCH(v));
}

const char* yes(bool b) {
    return b ? "yes" : "no";
}

int runDevices(const std::vector<std::string>& argv) {
    ocelle::cli::Args args(argv, {"--device"}, {});
    std::unique_ptr<Instance> instance;
    try {
        instance = std::make_unique<Instance>(validationRequested());
    } catch (const VulkanError& e) {
        std::printf("Vulkan is not available: %s\nOcelle will use its CPU engine.\n", e.what());
        return 0;
    }
    const auto devices = instance->devices();
    if (devices.empty()) {
        std::printf("No Vulkan device found (no driver installed). Ocelle will use its CPU engine.\n");
        return 0;
    }
    for (const auto& d : devices) {
        const auto& f = d.features;
        std::printf("[%u] %s\n", d.index, d.name.c_str());
        std::printf("    type: %s, Vulkan %s, vendor 0x%04x device 0x%04x\n", deviceTypeName(d.type),
                    version(f.apiVersion).c_str(), d.vendorId, d.deviceId);
        std::printf("    device-local memory: %s, largest allocation %s, largest binding %s\n",
                    gib(d.deviceLocalBytes).c_str(), gib(f.maxMemoryAllocationSize).c_str(),
                    gib(f.maxStorageBufferRange).c_str());
        std::printf("    16-bit storage %s, 8-bit storage %s, fp16 arithmetic %s, int8 arithmetic %s\n",
                    yes(f.storage16Bit), yes(f.storage8Bit), yes(f.float16Arithmetic), yes(f.int8Arithmetic));
        std::printf("    subgroup size %u (arithmetic %s, shuffle %s), integer dot product %s\n", f.subgroupSize,
                    yes(f.subgroupArithmetic), yes(f.subgroupShuffle), yes(f.integerDotProduct));
        if (f.integerDotProduct)
            // Whether Q4_0/Q8_0 products use 8-bit activations by default (OCELLE_VULKAN_INTEGER_DOT).
            std::printf("    4x8-bit packed dot products accelerated: signed %s, unsigned %s, mixed %s; 8-bit "
                        "activation path %s by default\n",
                        yes(f.integerDot4x8PackedSignedAccelerated), yes(f.integerDot4x8PackedUnsignedAccelerated),
                        yes(f.integerDot4x8PackedMixedAccelerated), f.integerDotProductAccelerated ? "on" : "off");
        std::printf("    shared memory %u KiB, workgroup %u invocations, push constants %u bytes\n",
                    f.maxSharedMemory / 1024, f.maxWorkgroupInvocations, f.maxPushConstantsSize);
        if (d.usable()) std::printf("    usable: yes\n");
        for (const auto& m : d.unmetRequirements) std::printf("    unusable: %s\n", m.c_str());
    }
    const DeviceChoice automatic = autoSelectDevice(devices);
    if (automatic.index)
        std::printf("\nAutomatic choice: [%u] %s, %s.\n", *automatic.index,
                    devices[*automatic.index].name.c_str(), automatic.reason.c_str());
    else
        std::printf("\nAutomatic choice: none, %s. Ocelle will use its CPU engine.\n",
                    automatic.reason.c_str());
    const std::string forced = args.value("--device").value_or("");
    const DeviceChoice chosen = chooseDevice(devices, forced);
    if (chosen.forced) {
        if (chosen.index)
            std::printf("Forced choice: [%u] %s, %s.\n", *chosen.index, devices[*chosen.index].name.c_str(),
                        chosen.reason.c_str());
        else
            std::printf("Forced choice failed: %s.\n", chosen.reason.c_str());
    }
    return 0;
}

} // namespace

OCELLE_CLI_COMMAND(
    devices, "devices", "list Vulkan devices and which one Ocelle would use",
    "Usage: ocelle-cli devices [--device INDEX|NAME]\n\n"
    "Lists the Vulkan devices with their type, memory and the features Ocelle uses, and says\n"
    "which one the automatic choice picks and why (a CPU-type device such as lavapipe is never\n"
    "picked automatically). --device (or OCELLE_VULKAN_DEVICE) shows what forcing would choose.\n"
    "OCELLE_VULKAN_VALIDATION=1 enables the Khronos validation layer.",
    runDevices);
