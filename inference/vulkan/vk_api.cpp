#include "vulkan/vk_api.h"

#include <dlfcn.h>

#include <mutex>

namespace ocelle::vulkan {

namespace {
VulkanApi& table() {
    static VulkanApi api;
    return api;
}
} // namespace

const VulkanApi& vk() {
    return table();
}

void loadLoader() {
    static std::once_flag once;
    static std::string failure;
    std::call_once(once, [] {
        // libvulkan.so.1 is the loader's ABI name; plain libvulkan.so exists only with -dev packages.
        void* library = dlopen("libvulkan.so.1", RTLD_NOW | RTLD_LOCAL);
        if (!library) library = dlopen("libvulkan.so", RTLD_NOW | RTLD_LOCAL);
        if (!library) {
            const char* why = dlerror();
            failure = std::string("no Vulkan loader: could not open libvulkan.so.1 (") +
                      (why ? why : "unknown") +
                      "). Install the Vulkan loader (Debian/Ubuntu: libvulkan1) and a driver for your GPU.";
            return;
        }
        auto getProc = reinterpret_cast<PFN_vkGetInstanceProcAddr>(dlsym(library, "vkGetInstanceProcAddr"));
        if (!getProc) {
            failure =
                "the Vulkan loader libvulkan.so.1 has no vkGetInstanceProcAddr; it is broken or not a loader";
            return;
        }
        VulkanApi& api = table();
        api.vkGetInstanceProcAddr = getProc;
#define OCELLE_VK_LOAD_GLOBAL(name) api.name = reinterpret_cast<PFN_##name>(getProc(VK_NULL_HANDLE, #name));
        OCELLE_VK_GLOBAL_FUNCTIONS(OCELLE_VK_LOAD_GLOBAL)
#undef OCELLE_VK_LOAD_GLOBAL
        if (!api.vkCreateInstance || !api.vkEnumerateInstanceExtensionProperties)
            failure = "the Vulkan loader does not provide vkCreateInstance";
        // vkEnumerateInstanceVersion is absent on Vulkan 1.0 loaders; Instance reports that case.
    });
    if (!failure.empty()) throw VulkanError(failure);
}

void loadInstanceFunctions(VkInstance instance) {
    VulkanApi& api = table();
#define OCELLE_VK_LOAD_INSTANCE(name)                                                                        \
    api.name = reinterpret_cast<PFN_##name>(api.vkGetInstanceProcAddr(instance, #name));                     \
    if (!api.name) throw VulkanError("the Vulkan loader lacks " #name " (a Vulkan 1.2 loader is required)");
    OCELLE_VK_INSTANCE_FUNCTIONS(OCELLE_VK_LOAD_INSTANCE)
#undef OCELLE_VK_LOAD_INSTANCE
#define OCELLE_VK_LOAD_OPTIONAL(name)                                                                        \
    api.name = reinterpret_cast<PFN_##name>(api.vkGetInstanceProcAddr(instance, #name));
    OCELLE_VK_OPTIONAL_INSTANCE_FUNCTIONS(OCELLE_VK_LOAD_OPTIONAL)
#undef OCELLE_VK_LOAD_OPTIONAL
}

const char* resultName(VkResult result) {
    switch (result) {
    case VK_SUCCESS:
        return "VK_SUCCESS";
    case VK_NOT_READY:
        return "VK_NOT_READY";
    case VK_TIMEOUT:
        return "VK_TIMEOUT";
    case VK_INCOMPLETE:
        return "VK_INCOMPLETE";
    case VK_ERROR_OUT_OF_HOST_MEMORY:
        return "VK_ERROR_OUT_OF_HOST_MEMORY";
    case VK_ERROR_OUT_OF_DEVICE_MEMORY:
        return "VK_ERROR_OUT_OF_DEVICE_MEMORY";
    case VK_ERROR_INITIALIZATION_FAILED:
        return "VK_ERROR_INITIALIZATION_FAILED";
    case VK_ERROR_DEVICE_LOST:
        return "VK_ERROR_DEVICE_LOST";
    case VK_ERROR_MEMORY_MAP_FAILED:
        return "VK_ERROR_MEMORY_MAP_FAILED";
    case VK_ERROR_LAYER_NOT_PRESENT:
        return "VK_ERROR_LAYER_NOT_PRESENT";
    case VK_ERROR_EXTENSION_NOT_PRESENT:
        return "VK_ERROR_EXTENSION_NOT_PRESENT";
    case VK_ERROR_FEATURE_NOT_PRESENT:
        return "VK_ERROR_FEATURE_NOT_PRESENT";
    case VK_ERROR_INCOMPATIBLE_DRIVER:
        return "VK_ERROR_INCOMPATIBLE_DRIVER";
    case VK_ERROR_TOO_MANY_OBJECTS:
        return "VK_ERROR_TOO_MANY_OBJECTS";
    case VK_ERROR_FORMAT_NOT_SUPPORTED:
        return "VK_ERROR_FORMAT_NOT_SUPPORTED";
    case VK_ERROR_OUT_OF_POOL_MEMORY:
        return "VK_ERROR_OUT_OF_POOL_MEMORY";
    default:
        return "VkResult (unnamed)";
    }
}

void check(VkResult result, const char* what) {
    if (result == VK_SUCCESS) return;
    std::string message = std::string(what) + " failed: " + resultName(result);
    if (result == VK_ERROR_OUT_OF_DEVICE_MEMORY) message += " (the device ran out of memory)";
    throw VulkanError(message);
}

} // namespace ocelle::vulkan
