#include "vulkan/device.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace ocelle::vulkan {

const char* deviceTypeName(DeviceType type) {
    switch (type) {
    case DeviceType::DiscreteGpu:
        return "discrete GPU";
    case DeviceType::IntegratedGpu:
        return "integrated GPU";
    case DeviceType::VirtualGpu:
        return "virtual GPU";
    case DeviceType::Cpu:
        return "CPU";
    case DeviceType::Other:
        break;
    }
    return "other";
}

namespace {

constexpr uint32_t kRequiredApi = VK_API_VERSION_1_2;

std::string lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

int typeRank(DeviceType type) {
    switch (type) {
    case DeviceType::DiscreteGpu:
        return 0;
    case DeviceType::IntegratedGpu:
        return 1;
    case DeviceType::VirtualGpu:
        return 2;
    case DeviceType::Other:
        return 3;
    case DeviceType::Cpu:
        return 4;
    }
    return 5;
}

DeviceType fromVk(VkPhysicalDeviceType type) {
    switch (type) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU:
        return DeviceType::DiscreteGpu;
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU:
        return DeviceType::IntegratedGpu;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU:
        return DeviceType::VirtualGpu;
    case VK_PHYSICAL_DEVICE_TYPE_CPU:
        return DeviceType::Cpu;
    default:
        return DeviceType::Other;
    }
}

std::string versionString(uint32_t v) {
    return std::to_string(VK_API_VERSION_MAJOR(v)) + "." + std::to_string(VK_API_VERSION_MINOR(v)) + "." +
           std::to_string(VK_API_VERSION_PATCH(v));
}

bool hasLayer(const char* name) {
    uint32_t count = 0;
    if (vk().vkEnumerateInstanceLayerProperties(&count, nullptr) != VK_SUCCESS) return false;
    std::vector<VkLayerProperties> layers(count);
    vk().vkEnumerateInstanceLayerProperties(&count, layers.data());
    for (const auto& l : layers)
        if (!std::strcmp(l.layerName, name)) return true;
    return false;
}

bool hasInstanceExtension(const char* name) {
    uint32_t count = 0;
    if (vk().vkEnumerateInstanceExtensionProperties(nullptr, &count, nullptr) != VK_SUCCESS) return false;
    std::vector<VkExtensionProperties> exts(count);
    vk().vkEnumerateInstanceExtensionProperties(nullptr, &count, exts.data());
    for (const auto& e : exts)
        if (!std::strcmp(e.extensionName, name)) return true;
    return false;
}

std::vector<std::string> deviceExtensions(VkPhysicalDevice device) {
    uint32_t count = 0;
    vk().vkEnumerateDeviceExtensionProperties(device, nullptr, &count, nullptr);
    std::vector<VkExtensionProperties> exts(count);
    vk().vkEnumerateDeviceExtensionProperties(device, nullptr, &count, exts.data());
    std::vector<std::string> names;
    for (const auto& e : exts) names.emplace_back(e.extensionName);
    return names;
}

std::optional<uint32_t> computeQueueFamily(VkPhysicalDevice device) {
    uint32_t count = 0;
    vk().vkGetPhysicalDeviceQueueFamilyProperties(device, &count, nullptr);
    std::vector<VkQueueFamilyProperties> families(count);
    vk().vkGetPhysicalDeviceQueueFamilyProperties(device, &count, families.data());
    // Prefer a compute family without graphics (async compute on discrete GPUs), else any compute.
    std::optional<uint32_t> any;
    for (uint32_t i = 0; i < count; ++i) {
        if (!(families[i].queueFlags & VK_QUEUE_COMPUTE_BIT)) continue;
        if (!(families[i].queueFlags & VK_QUEUE_GRAPHICS_BIT)) return i;
        if (!any) any = i;
    }
    return any;
}

DeviceInfo describe(VkPhysicalDevice device, uint32_t index) {
    DeviceInfo info;
    info.index = index;
    const auto extensions = deviceExtensions(device);
    auto hasExt = [&](const char* n) {
        return std::find(extensions.begin(), extensions.end(), n) != extensions.end();
    };
    const bool hasIntDotExtension = hasExt(VK_KHR_SHADER_INTEGER_DOT_PRODUCT_EXTENSION_NAME);

    VkPhysicalDeviceProperties base{};
    vk().vkGetPhysicalDeviceProperties(device, &base);
    info.name = base.deviceName;
    info.type = fromVk(base.deviceType);
    info.vendorId = base.vendorID;
    info.deviceId = base.deviceID;
    info.driverVersion = std::to_string(base.driverVersion);
    auto& f = info.features;
    f.apiVersion = base.apiVersion;
    if (base.apiVersion < kRequiredApi) {
        info.unmetRequirements.push_back("Vulkan " + versionString(base.apiVersion) + " (1.2 required)");
        return info; // the 1.1/1.2 query structs below are not valid on a 1.0/1.1 device
    }

    // Drivers keep listing the extension after its promotion to 1.3; asking for it alone stays valid
    // when the instance is 1.2.
    const bool hasIntDot = hasIntDotExtension;
    VkPhysicalDeviceShaderIntegerDotProductProperties dotProps{};
    dotProps.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_INTEGER_DOT_PRODUCT_PROPERTIES;
    VkPhysicalDeviceVulkan11Properties props11{};
    props11.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_PROPERTIES;
    props11.pNext = hasIntDot ? &dotProps : nullptr;
    VkPhysicalDeviceProperties2 props2{};
    props2.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2;
    props2.pNext = &props11;
    vk().vkGetPhysicalDeviceProperties2(device, &props2);

    VkPhysicalDeviceShaderIntegerDotProductFeatures dotFeatures{};
    dotFeatures.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_INTEGER_DOT_PRODUCT_FEATURES;
    VkPhysicalDeviceVulkan11Features feat11{};
    feat11.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES;
    feat11.pNext = hasIntDot ? &dotFeatures : nullptr;
    VkPhysicalDeviceVulkan12Features feat12{};
    feat12.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES;
    feat12.pNext = &feat11;
    VkPhysicalDeviceFeatures2 feats{};
    feats.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2;
    feats.pNext = &feat12;
    vk().vkGetPhysicalDeviceFeatures2(device, &feats);

    const VkPhysicalDeviceLimits& limits = base.limits;
    f.storage16Bit = feat11.storageBuffer16BitAccess;
    f.storage8Bit = feat12.storageBuffer8BitAccess;
    f.float16Arithmetic = feat12.shaderFloat16;
    f.int8Arithmetic = feat12.shaderInt8;
    f.int64Arithmetic = feats.features.shaderInt64;
    f.subgroupSize = props11.subgroupSize;
    f.subgroupInCompute = props11.subgroupSupportedStages & VK_SHADER_STAGE_COMPUTE_BIT;
    f.subgroupArithmetic =
        f.subgroupInCompute && (props11.subgroupSupportedOperations & VK_SUBGROUP_FEATURE_ARITHMETIC_BIT);
    f.subgroupShuffle =
        f.subgroupInCompute && (props11.subgroupSupportedOperations & VK_SUBGROUP_FEATURE_SHUFFLE_BIT);
    f.subgroupBallot =
        f.subgroupInCompute && (props11.subgroupSupportedOperations & VK_SUBGROUP_FEATURE_BALLOT_BIT);
    f.integerDotProduct = hasIntDot && dotFeatures.shaderIntegerDotProduct;
    if (f.integerDotProduct) {
        f.integerDot4x8PackedSignedAccelerated = dotProps.integerDotProduct4x8BitPackedSignedAccelerated;
        f.integerDot4x8PackedUnsignedAccelerated = dotProps.integerDotProduct4x8BitPackedUnsignedAccelerated;
        f.integerDot4x8PackedMixedAccelerated =
            dotProps.integerDotProduct4x8BitPackedMixedSignednessAccelerated;
    }
    f.integerDotProductAccelerated = f.integerDot4x8PackedSignedAccelerated;
    f.maxStorageBufferRange = limits.maxStorageBufferRange;
    f.maxMemoryAllocationSize = props11.maxMemoryAllocationSize;
    f.maxSharedMemory = limits.maxComputeSharedMemorySize;
    f.maxWorkgroupInvocations = limits.maxComputeWorkGroupInvocations;
    for (int i = 0; i < 3; ++i) f.maxWorkgroupCount[i] = limits.maxComputeWorkGroupCount[i];
    f.maxPushConstantsSize = limits.maxPushConstantsSize;
    f.minStorageBufferOffsetAlignment = limits.minStorageBufferOffsetAlignment;

    VkPhysicalDeviceMemoryProperties memory{};
    vk().vkGetPhysicalDeviceMemoryProperties(device, &memory);
    for (uint32_t h = 0; h < memory.memoryHeapCount; ++h)
        if (memory.memoryHeaps[h].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT)
            info.deviceLocalBytes += memory.memoryHeaps[h].size;

    auto family = computeQueueFamily(device);
    if (!family) {
        info.unmetRequirements.push_back("no compute queue");
    } else {
        uint32_t count = 0;
        vk().vkGetPhysicalDeviceQueueFamilyProperties(device, &count, nullptr);
        std::vector<VkQueueFamilyProperties> families(count);
        vk().vkGetPhysicalDeviceQueueFamilyProperties(device, &count, families.data());
        if (families[*family].timestampValidBits > 0) f.timestampPeriodNs = limits.timestampPeriod;
    }
    // What the kernels need: the tiled matmul uses up to 16 KiB of shared memory (more when the device
    // has it) and 256 invocations,
    // attention 64; push constants are at most 128 bytes (the guaranteed minimum).
    if (f.maxSharedMemory < 16 * 1024)
        info.unmetRequirements.push_back("only " + std::to_string(f.maxSharedMemory) +
                                         " bytes of shared memory (16 KiB required)");
    if (f.maxWorkgroupInvocations < 256)
        info.unmetRequirements.push_back("workgroups of " + std::to_string(f.maxWorkgroupInvocations) +
                                         " invocations (256 required)");
    if (f.maxStorageBufferRange < (16u << 20))
        info.unmetRequirements.push_back("storage-buffer range " + std::to_string(f.maxStorageBufferRange) +
                                         " bytes (16 MiB required)");
    return info;
}

} // namespace

DeviceChoice autoSelectDevice(const std::vector<DeviceInfo>& devices) {
    DeviceChoice choice;
    const DeviceInfo* best = nullptr;
    bool sawCpu = false;
    bool sawUnusable = false;
    for (const auto& d : devices) {
        if (d.type == DeviceType::Cpu) {
            sawCpu = true;
            continue;
        }
        if (!d.usable()) {
            sawUnusable = true;
            continue;
        }
        if (!best || typeRank(d.type) < typeRank(best->type) ||
            (typeRank(d.type) == typeRank(best->type) && d.deviceLocalBytes > best->deviceLocalBytes))
            best = &d;
    }
    if (best) {
        choice.index = best->index;
        choice.reason = std::string("the best usable GPU (") + deviceTypeName(best->type) +
                        "; ranking discrete > integrated > virtual > other, then memory)";
        return choice;
    }
    if (devices.empty())
        choice.reason = "no Vulkan device is present";
    else if (sawCpu && !sawUnusable)
        choice.reason =
            "only CPU-type Vulkan devices are present (never chosen automatically: the CPU engine is "
            "faster on the same hardware; force one with OCELLE_VULKAN_DEVICE to use it anyway)";
    else
        choice.reason = "no Vulkan GPU meets Ocelle's requirements";
    return choice;
}

DeviceChoice chooseDevice(const std::vector<DeviceInfo>& devices, const std::string& forced) {
    std::string request = forced;
    std::string source = "requested";
    if (request.empty()) {
        if (const char* env = std::getenv("OCELLE_VULKAN_DEVICE"); env && *env) {
            request = env;
            source = "OCELLE_VULKAN_DEVICE";
        }
    }
    if (request.empty()) return autoSelectDevice(devices);

    DeviceChoice choice;
    choice.forced = true;
    const DeviceInfo* match = nullptr;
    const bool isIndex =
        std::all_of(request.begin(), request.end(), [](unsigned char c) { return std::isdigit(c); });
    if (isIndex) {
        const unsigned long wanted = std::strtoul(request.c_str(), nullptr, 10);
        for (const auto& d : devices)
            if (d.index == wanted) match = &d;
        if (!match) {
            choice.reason = source + " device index " + request + " does not exist (" +
                            std::to_string(devices.size()) + " device(s) present)";
            return choice;
        }
    } else {
        const std::string needle = lower(request);
        for (const auto& d : devices)
            if (lower(d.name).find(needle) != std::string::npos) {
                match = &d;
                break;
            }
        if (!match) {
            choice.reason = source + " device \"" + request + "\" matches no device name";
            return choice;
        }
    }
    if (!match->usable()) {
        std::string missing;
        for (const auto& m : match->unmetRequirements) missing += (missing.empty() ? "" : "; ") + m;
        choice.reason = source + " device " + std::to_string(match->index) + " (" + match->name +
                        ") lacks what Ocelle requires: " + missing;
        return choice;
    }
    choice.index = match->index;
    choice.reason = "forced by " + source + " \"" + request + "\"";
    if (match->type == DeviceType::Cpu)
        choice.reason += " (warning: a CPU-type Vulkan device; the CPU engine is usually faster)";
    return choice;
}

bool validationRequested() {
    if (const char* env = std::getenv("OCELLE_VULKAN_VALIDATION"); env && *env)
        return std::strcmp(env, "0") != 0;
#ifdef NDEBUG
    return false;
#else
    return true;
#endif
}

// ---------------------------------------------------------------------------------------------
// Instance

Instance::Instance(bool enableValidation) {
    loadLoader();
    uint32_t loaderVersion = VK_API_VERSION_1_0;
    if (vk().vkEnumerateInstanceVersion) vk().vkEnumerateInstanceVersion(&loaderVersion);
    if (loaderVersion < kRequiredApi)
        throw VulkanError("the Vulkan loader supports only Vulkan " + versionString(loaderVersion) +
                          "; Ocelle needs 1.2 or newer (update the loader/driver)");

    const char* kValidation = "VK_LAYER_KHRONOS_validation";
    std::vector<const char*> layers;
    std::vector<const char*> extensions;
    bool validation = false;
    if (enableValidation) {
        if (hasLayer(kValidation) && hasInstanceExtension(VK_EXT_DEBUG_UTILS_EXTENSION_NAME)) {
            layers.push_back(kValidation);
            extensions.push_back(VK_EXT_DEBUG_UTILS_EXTENSION_NAME);
            validation = true;
        } else {
            std::fprintf(stderr, "ocelle vulkan: validation requested but VK_LAYER_KHRONOS_validation is not "
                                 "installed (Debian: vulkan-validationlayers); running without it\n");
        }
    }
    // Portability drivers (MoltenVK) are only listed with this flag; harmless elsewhere.
    VkInstanceCreateFlags flags = 0;
    if (hasInstanceExtension(VK_KHR_PORTABILITY_ENUMERATION_EXTENSION_NAME)) {
        extensions.push_back(VK_KHR_PORTABILITY_ENUMERATION_EXTENSION_NAME);
        flags |= VK_INSTANCE_CREATE_ENUMERATE_PORTABILITY_BIT_KHR;
    }

    VkApplicationInfo app{};
    app.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO;
    app.pApplicationName = "Ocelle";
    app.pEngineName = "Ocelle";
    app.apiVersion = loaderVersion >= VK_API_VERSION_1_3 ? VK_API_VERSION_1_3 : VK_API_VERSION_1_2;

    VkDebugUtilsMessengerCreateInfoEXT messengerInfo{};
    messengerInfo.sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT;
    messengerInfo.messageSeverity =
        VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
    messengerInfo.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT |
                                VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                                VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT;
    messengerInfo.pfnUserCallback = &Instance::onMessage;
    messengerInfo.pUserData = this;

    VkInstanceCreateInfo create{};
    create.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO;
    create.pNext = validation ? &messengerInfo : nullptr; // also catches messages from create/destroy
    create.flags = flags;
    create.pApplicationInfo = &app;
    create.enabledLayerCount = static_cast<uint32_t>(layers.size());
    create.ppEnabledLayerNames = layers.data();
    create.enabledExtensionCount = static_cast<uint32_t>(extensions.size());
    create.ppEnabledExtensionNames = extensions.data();
    const VkResult created = vk().vkCreateInstance(&create, nullptr, &instance_);
    if (created == VK_ERROR_INCOMPATIBLE_DRIVER)
        throw VulkanError(
            "no Vulkan device: the loader found no driver (ICD) supporting Vulkan 1.2 "
            "(vkCreateInstance: VK_ERROR_INCOMPATIBLE_DRIVER); install your GPU's Vulkan driver, "
            "or mesa-vulkan-drivers for the lavapipe CPU device");
    check(created, "vkCreateInstance");
    loadInstanceFunctions(instance_);
    if (validation && vk().vkCreateDebugUtilsMessengerEXT)
        check(vk().vkCreateDebugUtilsMessengerEXT(instance_, &messengerInfo, nullptr, &messenger_),
              "vkCreateDebugUtilsMessengerEXT");
}

Instance::~Instance() {
    if (messenger_ != VK_NULL_HANDLE && vk().vkDestroyDebugUtilsMessengerEXT)
        vk().vkDestroyDebugUtilsMessengerEXT(instance_, messenger_, nullptr);
    if (instance_ != VK_NULL_HANDLE) vk().vkDestroyInstance(instance_, nullptr);
}

VkBool32 VKAPI_PTR Instance::onMessage(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                       VkDebugUtilsMessageTypeFlagsEXT,
                                       const VkDebugUtilsMessengerCallbackDataEXT* data, void* self) {
    auto* instance = static_cast<Instance*>(self);
    const bool error = severity & VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
    if (error)
        ++instance->errors_;
    else
        ++instance->warnings_;
    std::fprintf(stderr, "vulkan validation %s: %s\n", error ? "ERROR" : "warning",
                 data && data->pMessage ? data->pMessage : "(no message)");
    return VK_FALSE;
}

std::vector<DeviceInfo> Instance::devices() const {
    uint32_t count = 0;
    check(vk().vkEnumeratePhysicalDevices(instance_, &count, nullptr), "vkEnumeratePhysicalDevices");
    std::vector<VkPhysicalDevice> handles(count);
    check(vk().vkEnumeratePhysicalDevices(instance_, &count, handles.data()), "vkEnumeratePhysicalDevices");
    std::vector<DeviceInfo> infos;
    for (uint32_t i = 0; i < count; ++i) infos.push_back(describe(handles[i], i));
    return infos;
}

VkPhysicalDevice Instance::physicalDevice(uint32_t index) const {
    uint32_t count = 0;
    check(vk().vkEnumeratePhysicalDevices(instance_, &count, nullptr), "vkEnumeratePhysicalDevices");
    std::vector<VkPhysicalDevice> handles(count);
    check(vk().vkEnumeratePhysicalDevices(instance_, &count, handles.data()), "vkEnumeratePhysicalDevices");
    if (index >= count) throw VulkanError("Vulkan device index " + std::to_string(index) + " does not exist");
    return handles[index];
}

// ---------------------------------------------------------------------------------------------
// Device

std::unique_ptr<Device> Device::open(const DeviceOptions& options) {
    std::unique_ptr<Device> device(new Device());
    device->instance_ = std::make_unique<Instance>(options.validation);
    const auto devices = device->instance_->devices();
    if (devices.empty())
        throw VulkanError("no Vulkan device: the loader found no driver (install your GPU's Vulkan driver, "
                          "or mesa-vulkan-drivers for the lavapipe CPU device)");
    DeviceChoice choice = chooseDevice(devices, options.forced);
    if (!choice.index) throw VulkanError("no usable Vulkan device: " + choice.reason);
    const DeviceInfo& info = devices[*choice.index];
    if (info.type == DeviceType::Cpu && !options.allowCpu)
        throw VulkanError("Vulkan device " + info.name + " is a CPU device, which is not allowed here");
    device->info_ = info;
    device->reason_ = choice.reason;
    device->physical_ = device->instance_->physicalDevice(info.index);
    device->queueFamily_ = *computeQueueFamily(device->physical_);
    vk().vkGetPhysicalDeviceMemoryProperties(device->physical_, &device->memory_);

    // Switch on the optional storage/arithmetic features that exist; kernels pick variants by them.
    // Integer dot products (the extension and its feature).
    VkPhysicalDeviceShaderIntegerDotProductFeatures dotFeatures{};
    dotFeatures.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_INTEGER_DOT_PRODUCT_FEATURES;
    dotFeatures.shaderIntegerDotProduct = VK_TRUE;
    std::vector<const char*> extensions;
    if (info.features.integerDotProduct)
        extensions.push_back(VK_KHR_SHADER_INTEGER_DOT_PRODUCT_EXTENSION_NAME);
    VkPhysicalDeviceVulkan11Features feat11{};
    feat11.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES;
    feat11.pNext = info.features.integerDotProduct ? &dotFeatures : nullptr;
    feat11.storageBuffer16BitAccess = info.features.storage16Bit;
    VkPhysicalDeviceVulkan12Features feat12{};
    feat12.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES;
    feat12.pNext = &feat11;
    feat12.storageBuffer8BitAccess = info.features.storage8Bit;
    feat12.shaderFloat16 = info.features.float16Arithmetic;
    feat12.shaderInt8 = info.features.int8Arithmetic;
    VkPhysicalDeviceFeatures2 features{};
    features.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2;
    features.pNext = &feat12;
    features.features.shaderInt64 = info.features.int64Arithmetic;

    const float priority = 1.0f;
    VkDeviceQueueCreateInfo queueInfo{};
    queueInfo.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO;
    queueInfo.queueFamilyIndex = device->queueFamily_;
    queueInfo.queueCount = 1;
    queueInfo.pQueuePriorities = &priority;
    VkDeviceCreateInfo create{};
    create.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO;
    create.pNext = &features;
    create.queueCreateInfoCount = 1;
    create.pQueueCreateInfos = &queueInfo;
    create.enabledExtensionCount = static_cast<uint32_t>(extensions.size());
    create.ppEnabledExtensionNames = extensions.data();
    check(vk().vkCreateDevice(device->physical_, &create, nullptr, &device->device_), "vkCreateDevice");
    vk().vkGetDeviceQueue(device->device_, device->queueFamily_, 0, &device->queue_);

    VkCommandPoolCreateInfo poolInfo{};
    poolInfo.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO;
    poolInfo.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
    poolInfo.queueFamilyIndex = device->queueFamily_;
    check(vk().vkCreateCommandPool(device->device_, &poolInfo, nullptr, &device->commandPool_),
          "vkCreateCommandPool");
    VkFenceCreateInfo fenceInfo{};
    fenceInfo.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO;
    check(vk().vkCreateFence(device->device_, &fenceInfo, nullptr, &device->fence_), "vkCreateFence");
    return device;
}

Device::~Device() {
    if (device_ != VK_NULL_HANDLE) {
        vk().vkQueueWaitIdle(queue_);
        if (fence_ != VK_NULL_HANDLE) vk().vkDestroyFence(device_, fence_, nullptr);
        if (commandPool_ != VK_NULL_HANDLE) vk().vkDestroyCommandPool(device_, commandPool_, nullptr);
        vk().vkDestroyDevice(device_, nullptr);
    }
}

uint64_t Device::maxBindingBytes() const {
    return std::min<uint64_t>(info_.features.maxStorageBufferRange, uint64_t(1) << 31);
}

VkCommandBuffer Device::beginOneOff() {
    VkCommandBufferAllocateInfo alloc{};
    alloc.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO;
    alloc.commandPool = commandPool_;
    alloc.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
    alloc.commandBufferCount = 1;
    VkCommandBuffer cb = VK_NULL_HANDLE;
    check(vk().vkAllocateCommandBuffers(device_, &alloc, &cb), "vkAllocateCommandBuffers");
    VkCommandBufferBeginInfo begin{};
    begin.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO;
    begin.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
    check(vk().vkBeginCommandBuffer(cb, &begin), "vkBeginCommandBuffer");
    return cb;
}

void Device::submitAndWait(VkCommandBuffer cb) {
    check(vk().vkEndCommandBuffer(cb), "vkEndCommandBuffer");
    VkSubmitInfo submit{};
    submit.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO;
    submit.commandBufferCount = 1;
    submit.pCommandBuffers = &cb;
    check(vk().vkResetFences(device_, 1, &fence_), "vkResetFences");
    check(vk().vkQueueSubmit(queue_, 1, &submit, fence_), "vkQueueSubmit");
    VkResult waited = vk().vkWaitForFences(device_, 1, &fence_, VK_TRUE, UINT64_MAX);
    vk().vkFreeCommandBuffers(device_, commandPool_, 1, &cb);
    check(waited, "vkWaitForFences");
}

} // namespace ocelle::vulkan
