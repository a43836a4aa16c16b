#include "media/media_encoding.h"

#include "media/audio.h"
#include "media/media_error.h"

#include <memory>
#include <utility>

namespace ocelle::media {

namespace {

chat::Embeddings share(std::vector<float>&& values) {
    return std::make_shared<const std::vector<float>>(std::move(values));
}

chat::VideoFrame encodeFrame(const vision::VisionEncoder& encoder, const VideoFrame& frame, int budget,
                             const std::string& path) {
    EncodedImage encoded;
    try {
        encoded = encodeImage(encoder, frame.image, budget);
    } catch (const vision::VisionError& e) {
        throw vision::VisionError(path + " (frame at " + frame.timestamp + "): " + e.what());
    }
    return {frame.seconds, encoded.tokens, share(std::move(encoded.embeddings))};
}

} // namespace

EncodedImage encodeImage(const vision::VisionEncoder& encoder, const RgbImage& image, int budget,
                         ImageSizePolicy policy) {
    PreprocessOptions options;
    options.budget = budget;
    options.policy = policy;
    const PreprocessedImage pre = preprocessImage(image, options);
    EncodedImage result;
    result.width = pre.resized.width;
    result.height = pre.resized.height;
    result.tokens = vision::VisionEncoder::tokensFor(pre.patchesX, pre.patchesY);
    result.embeddings = encoder.encodePatches(pre.patches, pre.patchesX, pre.patchesY);
    return result;
}

EncodedImage encodeImageFile(const vision::VisionEncoder& encoder, const std::string& path, int budget,
                             ImageSizePolicy policy) {
    const RgbImage image = loadImage(path);
    try {
        return encodeImage(encoder, image, budget, policy);
    } catch (const vision::VisionError& e) {
        throw vision::VisionError(path + ": " + e.what());
    }
}

EncodedAudio encodeAudioFile(const audio::AudioEncoder& encoder, const std::string& path) {
    const DecodedAudio decoded = decodeAudioFile(path);
    EncodedAudio result;
    result.seconds = decoded.seconds();
    for (const std::vector<float>& piece : splitIntoPieces(decoded.samples)) {
        const LogMel mel = logMelFeatures(piece, LogMelVariant::LlamaCpp);
        if (mel.frames <= 0) continue; // a tail shorter than one 20 ms frame carries nothing
        const std::vector<float> tokens = encoder.encode(mel.values, mel.frames);
        result.embeddings.insert(result.embeddings.end(), tokens.begin(), tokens.end());
        result.tokens += audio::AudioEncoder::tokensForFrames(mel.frames);
    }
    if (result.tokens == 0)
        throw audio::AudioError(path + ": the audio is too short to encode (" +
                                std::to_string(decoded.samples.size()) + " samples at 16 kHz)");
    return result;
}

chat::Part imagePart(EncodedImage encoded) {
    return chat::Part::image(encoded.tokens, share(std::move(encoded.embeddings)));
}

chat::Part audioPart(EncodedAudio encoded) {
    return chat::Part::audio(encoded.tokens, share(std::move(encoded.embeddings)));
}

chat::Part encodeImagePart(const vision::VisionEncoder& encoder, const std::string& path, int budget) {
    return imagePart(encodeImageFile(encoder, path, budget));
}

chat::Part encodeAudioPart(const audio::AudioEncoder& encoder, const std::string& path) {
    return audioPart(encodeAudioFile(encoder, path));
}

chat::Part encodeVideoPart(const vision::VisionEncoder& encoder, const std::string& path,
                           const FrameSampling& sampling, const VideoProgress& progress, int budget) {
    requireValidBudget(budget);
    const VideoReader reader(path);
    std::vector<chat::VideoFrame> frames;
    // The reader calls `progress` right after `onFrame` returns, i.e. once the frame is encoded.
    reader.sampleFrames(
        sampling, [&](VideoFrame&& frame) { frames.push_back(encodeFrame(encoder, frame, budget, path)); },
        progress);
    return chat::Part::video(std::move(frames));
}

chat::Part encodeVideoFramePart(const vision::VisionEncoder& encoder, const std::string& path, double seconds,
                                int budget) {
    requireValidBudget(budget);
    const VideoFrame frame = VideoReader(path).frameAt(seconds);
    return chat::Part::video({encodeFrame(encoder, frame, budget, path)});
}

} // namespace ocelle::media
