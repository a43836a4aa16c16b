#include "device_choice.h"

#include "chat_engine.h"
#include "engine/engine.h"

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

} // namespace ocelle::app
