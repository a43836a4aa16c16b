// The Vulkan C API, loaded at run time. libvulkan.so.1 is opened with dlopen so that a machine
// without a Vulkan loader still starts (and says why Vulkan is unavailable) instead of failing
// at process start with a missing-library error.
#pragma once

#ifndef VK_NO_PROTOTYPES
#define VK_NO_PROTOTYPES
#endif
#include <vulkan/vulkan_core.h>

#include <stdexcept>
#include <string>

namespace ocelle::vulkan {

// Every failure of the Vulkan layer: missing loader, no device, a call that returned an error.
class VulkanError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Functions resolved without an instance.
#define OCELLE_VK_GLOBAL_FUNCTIONS(X)                                                                        \
    X(vkCreateInstance)                                                                                      \
    X(vkEnumerateInstanceVersion)                                                                            \
    X(vkEnumerateInstanceLayerProperties)                                                                    \
    X(vkEnumerateInstanceExtensionProperties)

// Functions resolved through the instance (instance- and device-level; the loader trampolines
// device calls, which is fine for a compute engine that makes few calls per token).
#define OCELLE_VK_INSTANCE_FUNCTIONS(X)                                                                      \
    X(vkDestroyInstance)                                                                                     \
    X(vkEnumeratePhysicalDevices)                                                                            \
    X(vkGetPhysicalDeviceProperties)                                                                         \
    X(vkGetPhysicalDeviceProperties2)                                                                        \
    X(vkGetPhysicalDeviceFeatures2)                                                                          \
    X(vkGetPhysicalDeviceMemoryProperties)                                                                   \
    X(vkGetPhysicalDeviceQueueFamilyProperties)                                                              \
    X(vkEnumerateDeviceExtensionProperties)                                                                  \
    X(vkCreateDevice)                                                                                        \
    X(vkDestroyDevice)                                                                                       \
    X(vkGetDeviceQueue)                                                                                      \
    X(vkCreateBuffer)                                                                                        \
    X(vkDestroyBuffer)                                                                                       \
    X(vkGetBufferMemoryRequirements)                                                                         \
    X(vkAllocateMemory)                                                                                      \
    X(vkFreeMemory)                                                                                          \
    X(vkBindBufferMemory)                                                                                    \
    X(vkMapMemory)                                                                                           \
    X(vkUnmapMemory)                                                                                         \
    X(vkFlushMappedMemoryRanges)                                                                             \
    X(vkInvalidateMappedMemoryRanges)                                                                        \
    X(vkCreateCommandPool)                                                                                   \
    X(vkDestroyCommandPool)                                                                                  \
    X(vkAllocateCommandBuffers)                                                                              \
    X(vkFreeCommandBuffers)                                                                                  \
    X(vkBeginCommandBuffer)                                                                                  \
    X(vkEndCommandBuffer)                                                                                    \
    X(vkResetCommandBuffer)                                                                                  \
    X(vkCmdCopyBuffer)                                                                                       \
    X(vkCmdFillBuffer)                                                                                       \
    X(vkCmdPipelineBarrier)                                                                                  \
    X(vkCmdBindPipeline)                                                                                     \
    X(vkCmdBindDescriptorSets)                                                                               \
    X(vkCmdPushConstants)                                                                                    \
    X(vkCmdDispatch)                                                                                         \
    X(vkCmdWriteTimestamp)                                                                                   \
    X(vkCmdResetQueryPool)                                                                                   \
    X(vkQueueSubmit)                                                                                         \
    X(vkQueueWaitIdle)                                                                                       \
    X(vkCreateFence)                                                                                         \
    X(vkDestroyFence)                                                                                        \
    X(vkWaitForFences)                                                                                       \
    X(vkResetFences)                                                                                         \
    X(vkCreateShaderModule)                                                                                  \
    X(vkDestroyShaderModule)                                                                                 \
    X(vkCreatePipelineCache)                                                                                 \
    X(vkDestroyPipelineCache)                                                                                \
    X(vkCreateComputePipelines)                                                                              \
    X(vkDestroyPipeline)                                                                                     \
    X(vkCreatePipelineLayout)                                                                                \
    X(vkDestroyPipelineLayout)                                                                               \
    X(vkCreateDescriptorSetLayout)                                                                           \
    X(vkDestroyDescriptorSetLayout)                                                                          \
    X(vkCreateDescriptorPool)                                                                                \
    X(vkDestroyDescriptorPool)                                                                               \
    X(vkResetDescriptorPool)                                                                                 \
    X(vkAllocateDescriptorSets)                                                                              \
    X(vkUpdateDescriptorSets)                                                                                \
    X(vkCreateQueryPool)                                                                                     \
    X(vkDestroyQueryPool)                                                                                    \
    X(vkGetQueryPoolResults)

// Optional instance functions (extensions); null when absent.
#define OCELLE_VK_OPTIONAL_INSTANCE_FUNCTIONS(X)                                                             \
    X(vkCreateDebugUtilsMessengerEXT)                                                                        \
    X(vkDestroyDebugUtilsMessengerEXT)

struct VulkanApi {
    PFN_vkGetInstanceProcAddr vkGetInstanceProcAddr = nullptr;
#define OCELLE_VK_DECLARE(name) PFN_##name name = nullptr;
    OCELLE_VK_GLOBAL_FUNCTIONS(OCELLE_VK_DECLARE)
    OCELLE_VK_INSTANCE_FUNCTIONS(OCELLE_VK_DECLARE)
    OCELLE_VK_OPTIONAL_INSTANCE_FUNCTIONS(OCELLE_VK_DECLARE)
#undef OCELLE_VK_DECLARE
};

// The process-wide function table. loadLoader() must have succeeded first.
const VulkanApi& vk();

// Opens the Vulkan loader (once) and resolves the global functions. Throws VulkanError with a
// message naming the library and what to install when it is missing.
void loadLoader();

// Resolves the instance-level functions for this instance (called by Instance).
void loadInstanceFunctions(VkInstance instance);

// "VK_ERROR_OUT_OF_DEVICE_MEMORY" etc.
const char* resultName(VkResult result);

// Throws VulkanError("<what>: <result name>") unless result is VK_SUCCESS.
void check(VkResult result, const char* what);

} // namespace ocelle::vulkan
