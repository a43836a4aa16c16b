// Gemma 4's vision encoder on a Vulkan device: the same computation as the CPU encoder
// (vision_encoder.h), with the weights uploaded once as stored in the file (F16/quantized linears)
// and fp32 activations. Patch vectors are built on the host; everything after them runs on the
// device, one command buffer per block, and the host waits only for the soft tokens.
//
//     auto encoder = ocelle::vision::VulkanVisionEncoder::load("mmproj.gguf", {.forced = "0"});
//     std::vector<float> tokens = encoder->encodePatches(pre.patches, pre.patchesX, pre.patchesY);
//
// Per-token work (norms, linears, FFN) runs in slices of tokens whose widest row set fits one
// storage-buffer binding (lavapipe: 128 MiB), so every budget up to 1120 soft tokens (10080 patches)
// works on every tower size; attention sees all patches at once (vulkan::Kernels::encoderAttention).
#pragma once

#include "vision/vision_encoder.h"
#include "vulkan/device.h"

namespace ocelle::vision {

class VulkanVisionEncoder final : public VisionEncoder {
public:
    // Opens the device (options.forced, OCELLE_VULKAN_DEVICE, then the automatic choice) and uploads
    // the tower. Throws VisionError / gguf::Error for the file, vulkan::VulkanError for the device.
    static std::unique_ptr<VulkanVisionEncoder> load(const std::string& path,
                                                     const vulkan::DeviceOptions& options = {});
    static std::unique_ptr<VulkanVisionEncoder> fromFile(std::unique_ptr<gguf::File> file,
                                                         const vulkan::DeviceOptions& options = {});
    ~VulkanVisionEncoder() override;

    const char* backendName() const override { return "vulkan"; }
    vulkan::Device& device() const { return *device_; }
    uint64_t deviceWeightBytes() const;

protected:
    std::vector<float> encodeVectors(std::vector<float> vectors, int patchesX, int patchesY,
                                     VisionEncoderTrace* trace) const override;

private:
    struct State;
    VulkanVisionEncoder(std::unique_ptr<gguf::File> file, std::unique_ptr<vulkan::Device> device);
    std::unique_ptr<vulkan::Device> device_;
    std::unique_ptr<State> state_;
};

} // namespace ocelle::vision
