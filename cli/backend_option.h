// --backend auto|cpu|vulkan and --device X, shared by the commands that run a model: parsed into
// engine::LoadOptions, resolved with engine::chooseBackend, and announced on stderr with the reason.
#pragma once

#include "command.h"

#include "engine/engine.h"

#include <cstdio>
#include <string>

namespace ocelle::cli {

inline constexpr const char* kBackendHelp =
    "  --backend auto|cpu|vulkan  the backend (default auto: Vulkan on a usable GPU, else the CPU)\n"
    "  --device X    Vulkan device index or name substring (default: OCELLE_VULKAN_DEVICE, then\n"
    "                automatic; CPU-type devices such as lavapipe only when named)\n";

inline engine::LoadOptions backendOptions(const Args& args) {
    engine::LoadOptions options;
    const std::string backend = args.value("--backend").value_or("auto");
    if (backend == "auto")
        options.backend = engine::BackendKind::Auto;
    else if (backend == "cpu")
        options.backend = engine::BackendKind::Cpu;
    else if (backend == "vulkan")
        options.backend = engine::BackendKind::Vulkan;
    else
        throw UsageError("--backend must be auto, cpu or vulkan");
    options.device = args.value("--device").value_or("");
    if (!options.device.empty() && options.backend == engine::BackendKind::Cpu)
        throw UsageError("--device needs the Vulkan backend");
    return options;
}

// Resolves the choice and says it on stderr; from then on options.backend is Cpu or Vulkan and a
// Vulkan device is named by its index, so loading uses exactly what was announced.
inline engine::BackendChoice announceBackend(engine::LoadOptions& options) {
    const engine::BackendChoice choice = engine::chooseBackend(options);
    if (choice.backend == engine::BackendKind::Vulkan) {
        std::fprintf(stderr, "ocelle-cli: backend vulkan on %s (%s)\n", choice.device.c_str(),
                     choice.reason.c_str());
        options.backend = engine::BackendKind::Vulkan;
        options.device = std::to_string(choice.deviceIndex);
    } else {
        std::fprintf(stderr, "ocelle-cli: backend cpu (%s)\n", choice.reason.c_str());
        options.backend = engine::BackendKind::Cpu;
    }
    return choice;
}

} // namespace ocelle::cli
