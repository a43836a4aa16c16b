// Vulkan instance and device: enumeration, ranking, forced choice, feature query, validation.
//
// Ranking for automatic choice is discrete > integrated > virtual > other; a CPU-type device
// (lavapipe, llvmpipe, SwiftShader) is never chosen automatically, because the CPU engine is faster
// on the same hardware. It can still be forced by index or name (argument or OCELLE_VULKAN_DEVICE).
#pragma once

#include "vulkan/vk_api.h"

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace ocelle::vulkan {

enum class DeviceType { DiscreteGpu, IntegratedGpu, VirtualGpu, Other, Cpu };
const char* deviceTypeName(DeviceType type);

// What the device can do that the kernels care about; optional ones have fallbacks.
struct DeviceFeatures {
    uint32_t apiVersion = 0;
    bool storage16Bit = false;      // storageBuffer16BitAccess
    bool storage8Bit = false;       // storageBuffer8BitAccess
    bool float16Arithmetic = false; // shaderFloat16
    bool int8Arithmetic = false;    // shaderInt8
    bool int64Arithmetic = false;   // shaderInt64
    uint32_t subgroupSize = 0;
    bool subgroupInCompute = false;
    bool subgroupArithmetic = false; // subgroupAdd/Max usable in compute shaders
    bool subgroupShuffle = false;
    bool subgroupBallot = false;               // subgroupBroadcast usable in compute shaders
    // shaderIntegerDotProduct (VK_KHR_shader_integer_dot_product or Vulkan 1.3), enabled when present,
    // and whether the device runs 4x8-bit packed dot products (OpSDot/OpUDot/OpSUDot on words of four
    // int8) in hardware rather than emulated: the integer-dot matvec is the default only then.
    bool integerDotProduct = false;
    bool integerDot4x8PackedSignedAccelerated = false;
    bool integerDot4x8PackedUnsignedAccelerated = false;
    bool integerDot4x8PackedMixedAccelerated = false;
    bool integerDotProductAccelerated = false; // the form the kernels use (signed) is accelerated
    uint64_t maxStorageBufferRange = 0;
    uint64_t maxMemoryAllocationSize = 0;
    uint32_t maxSharedMemory = 0;
    uint32_t maxWorkgroupInvocations = 0;
    uint32_t maxWorkgroupCount[3] = {0, 0, 0};
    uint32_t maxPushConstantsSize = 0;
    uint64_t minStorageBufferOffsetAlignment = 0;
    float timestampPeriodNs = 0; // 0 when the compute queue has no timestamps
};

struct DeviceInfo {
    uint32_t index = 0; // position in vkEnumeratePhysicalDevices order
    std::string name;
    DeviceType type = DeviceType::Other;
    uint32_t vendorId = 0;
    uint32_t deviceId = 0;
    std::string driverVersion;
    uint64_t deviceLocalBytes = 0; // sum of device-local heaps
    DeviceFeatures features;
    std::vector<std::string> unmetRequirements; // empty when Ocelle can use the device
    bool usable() const { return unmetRequirements.empty(); }
};

// Which device to use and why (for `ocelle-cli devices`, the app and logs).
struct DeviceChoice {
    std::optional<uint32_t> index; // nothing: no usable device
    std::string reason;
    bool forced = false;
};

// The automatic choice: best usable non-CPU device by type, then by device-local memory.
DeviceChoice autoSelectDevice(const std::vector<DeviceInfo>& devices);

// A forced choice: "2" (index) or a case-insensitive substring of the name ("llvmpipe").
// Empty `forced` falls back to OCELLE_VULKAN_DEVICE, then to autoSelectDevice. A forced device that
// does not exist or is unusable gives no index and a reason saying so (never a silent fallback).
DeviceChoice chooseDevice(const std::vector<DeviceInfo>& devices, const std::string& forced = {});

// Validation layers: on in debug builds and when OCELLE_VULKAN_VALIDATION=1; "0" turns them off.
bool validationRequested();

// A VkInstance with the functions loaded and, when requested and installed, the Khronos validation
// layer whose messages go to stderr and are counted.
class Instance {
public:
    // Throws VulkanError: no loader, loader older than 1.2, instance creation failed.
    explicit Instance(bool enableValidation = validationRequested());
    ~Instance();
    Instance(const Instance&) = delete;
    Instance& operator=(const Instance&) = delete;

    VkInstance handle() const { return instance_; }
    bool validationEnabled() const { return messenger_ != VK_NULL_HANDLE; }
    uint64_t validationErrors() const { return errors_.load(); }
    uint64_t validationWarnings() const { return warnings_.load(); }

    std::vector<DeviceInfo> devices() const;
    VkPhysicalDevice physicalDevice(uint32_t index) const;

private:
    static VkBool32 VKAPI_PTR onMessage(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                        VkDebugUtilsMessageTypeFlagsEXT types,
                                        const VkDebugUtilsMessengerCallbackDataEXT* data, void* self);
    VkInstance instance_ = VK_NULL_HANDLE;
    VkDebugUtilsMessengerEXT messenger_ = VK_NULL_HANDLE;
    std::atomic<uint64_t> errors_{0};
    std::atomic<uint64_t> warnings_{0};
};

struct DeviceOptions {
    std::string forced;   // see chooseDevice
    bool allowCpu = true; // false: refuse a CPU device even when forced (the app's default backend check)
    bool validation = validationRequested();
};

// The logical device: one compute queue, a command pool and the instance it came from.
class Device {
public:
    // Throws VulkanError with a specific message: no loader, no device, forced device missing,
    // device lacking requirements.
    static std::unique_ptr<Device> open(const DeviceOptions& options = {});
    ~Device();
    Device(const Device&) = delete;
    Device& operator=(const Device&) = delete;

    const DeviceInfo& info() const { return info_; }
    const DeviceFeatures& features() const { return info_.features; }
    const std::string& choiceReason() const { return reason_; }
    const Instance& instance() const { return *instance_; }
    uint64_t validationErrors() const { return instance_->validationErrors(); }

    VkDevice handle() const { return device_; }
    VkPhysicalDevice physical() const { return physical_; }
    VkQueue queue() const { return queue_; }
    uint32_t queueFamily() const { return queueFamily_; }
    VkCommandPool commandPool() const { return commandPool_; }
    const VkPhysicalDeviceMemoryProperties& memoryProperties() const { return memory_; }

    // Largest bytes one storage-buffer binding may cover here (maxStorageBufferRange, capped so
    // byte offsets fit the shaders' 32-bit arithmetic).
    uint64_t maxBindingBytes() const;

    // Runs `record` in a one-off command buffer and waits (uploads, tests). Not for the token loop.
    template <typename F> void runNow(F&& record);
    VkCommandBuffer beginOneOff();
    void submitAndWait(VkCommandBuffer commandBuffer);

private:
    Device() = default;
    std::unique_ptr<Instance> instance_;
    DeviceInfo info_;
    std::string reason_;
    VkPhysicalDevice physical_ = VK_NULL_HANDLE;
    VkDevice device_ = VK_NULL_HANDLE;
    VkQueue queue_ = VK_NULL_HANDLE;
    uint32_t queueFamily_ = 0;
    VkCommandPool commandPool_ = VK_NULL_HANDLE;
    VkFence fence_ = VK_NULL_HANDLE;
    VkPhysicalDeviceMemoryProperties memory_{};
};

template <typename F> void Device::runNow(F&& record) {
    VkCommandBuffer cb = beginOneOff();
    record(cb);
    submitAndWait(cb);
}

} // namespace ocelle::vulkan
