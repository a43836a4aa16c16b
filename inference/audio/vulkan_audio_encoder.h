// Gemma 4's audio encoder on a Vulkan device: the CPU encoder's computation (audio_encoder.h) with
// the vulkan/ kernels. Linears run as matmuls on the file's weight types; convolution kernels,
// norms and the relative-position tables (projected once at load) are fp32 on the device. One
// encode is one command buffer; the host waits only for the soft tokens (and, with a trace, for
// the traced intermediates).
//
//     auto encoder = ocelle::audio::VulkanAudioEncoder::load("mmproj.gguf", "llvmpipe");
//     std::vector<float> tokens = encoder->encode(mel.values, mel.frames);
#pragma once

#include "audio/audio_encoder.h"

#include <memory>
#include <string>

namespace ocelle::vulkan {
class Device;
}

namespace ocelle::audio {

class VulkanAudioEncoder : public AudioEncoder {
public:
    // Opens the Vulkan device (`device`: vulkan::chooseDevice's forced choice, empty for the
    // automatic one) and uploads the tower. Throws as AudioEncoder::load, or vulkan::VulkanError.
    static std::unique_ptr<VulkanAudioEncoder> load(const std::string& path, const std::string& device = {});
    static std::unique_ptr<VulkanAudioEncoder> fromFile(std::unique_ptr<gguf::File> file,
                                                        std::unique_ptr<vulkan::Device> device);
    ~VulkanAudioEncoder() override;

    std::string backendName() const override;
    std::vector<float> encode(std::span<const float> mel, int frames,
                              AudioEncoderTrace* trace = nullptr) const override;
    const vulkan::Device& device() const;

private:
    VulkanAudioEncoder(std::unique_ptr<gguf::File> file, std::unique_ptr<vulkan::Device> device);
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

} // namespace ocelle::audio
