#include "device_choice.h"

#include "chat_engine.h"
#include "engine/engine.h"
#include "vulkan/device.h"

namespace ocelle::app {

void applyDeviceChoice(const std::string& choice, engine::LoadOptions& options) {
    options.device.clear();
    if (choice.empty() || choice == "auto") {
        options.backend = engine::BackendKind::Auto;
    } else if (choice == "cpu") {
        options.backend = engine::BackendKind::Cpu;
    } else if (choice == "vulkan") {
        options.backend = engine::BackendKind::Vulkan;
    } else if (choice.rfind("vulkan:", 0) == 0 && choice.size() > 7) {
        options.backend = engine::BackendKind::Vulkan;
        options.device = choice.substr(7);
    } else {
        throw EngineError("The device setting \"" + choice +
                          "\" is not one of auto, cpu, vulkan or vulkan:<device>.");
    }
}

DeviceTarget resolveDevice(const std::string& choice) {
    DeviceTarget target;
    try {
        engine::LoadOptions options;
        applyDeviceChoice(choice, options);
        const engine::BackendChoice chosen = engine::chooseBackend(options);
        target.vulkan = chosen.backend == engine::BackendKind::Vulkan;
        target.name = target.vulkan ? chosen.device : "CPU";
        target.memoryBytes = chosen.memoryBytes;
        target.reason = chosen.reason;
    } catch (const std::exception& e) {
        target.vulkan = false;
        target.name = "CPU";
        target.memoryBytes = engine::systemMemoryBytes();
        target.reason = std::string(e.what()) + "; using the CPU";
    }
    return target;
}

std::vector<DeviceOption> listDeviceOptions() {
    std::vector<DeviceOption> options;
    const DeviceTarget automatic = resolveDevice("auto");
    options.push_back(
        {"auto", "Automatic (" + automatic.name + ")", automatic.memoryBytes, true, automatic.reason});
    options.push_back({"cpu", "CPU", engine::systemMemoryBytes(), true, "Ocelle's CPU engine"});
    try {
        vulkan::Instance probe(false);
        for (const vulkan::DeviceInfo& device : probe.devices()) {
            DeviceOption option;
            option.choice = "vulkan:" + std::to_string(device.index);
            option.name = device.name + " (Vulkan)";
            option.memoryBytes = device.deviceLocalBytes;
            option.usable = device.usable();
            if (!device.usable()) {
                for (const std::string& unmet : device.unmetRequirements)
                    option.note += (option.note.empty() ? "" : "; ") + unmet;
            } else if (device.type == vulkan::DeviceType::Cpu) {
                option.note = "a CPU-type Vulkan device: usually slower than the CPU engine";
            } else {
                option.note = vulkan::deviceTypeName(device.type);
            }
            options.push_back(std::move(option));
        }
    } catch (const std::exception&) {
        // No Vulkan here: automatic and the CPU remain (the automatic entry's note says why).
    }
    return options;
}

} // namespace ocelle::app
