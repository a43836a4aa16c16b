// The device setting ("auto", "cpu", "vulkan", "vulkan:<index or name>") turned into the engine's
// backend choice, and what that device offers: its name, its memory, and why it was chosen.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ocelle::engine {
struct LoadOptions;
}

namespace ocelle::app {

// Sets the backend and Vulkan device of `options` from a device setting. Throws EngineError for a
// setting that is none of the forms above.
void applyDeviceChoice(const std::string& choice, engine::LoadOptions& options);

struct DeviceTarget {
    std::string name; // "CPU" or the Vulkan device's name
    bool vulkan = false;
    uint64_t memoryBytes = 0; // RAM for the CPU, device-local heaps for Vulkan; 0 when unknown
    std::string reason;       // why this device (or why the setting cannot be used)
};

// Which device a load with this setting would use, without loading anything (probes Vulkan, so
// call it off the GUI thread). Never throws: an unusable setting falls back to the CPU with the
// reason saying why.
DeviceTarget resolveDevice(const std::string& choice);

// One entry of the device setting's choices.
struct DeviceOption {
    std::string choice;       // the setting's value: "auto", "cpu" or "vulkan:<index>"
    std::string name;         // for the user
    uint64_t memoryBytes = 0; // as in DeviceTarget
    bool usable = true;
    std::string note; // e.g. why a Vulkan device cannot be used, or why it is slow
};

// "auto", "cpu", then every Vulkan device by index. Probes Vulkan: call it off the GUI thread.
std::vector<DeviceOption> listDeviceOptions();

} // namespace ocelle::app
