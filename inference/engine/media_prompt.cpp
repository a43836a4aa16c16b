#include "engine/media_prompt.h"

#include "gguf/gguf.h"
#include "model/hparams.h"

#include <string>

namespace ocelle::engine {

namespace {

const char* kindName(chat::MediaKind kind) {
    switch (kind) {
    case chat::MediaKind::Image:
        return "image";
    case chat::MediaKind::Audio:
        return "audio clip";
    case chat::MediaKind::VideoFrame:
        return "video frame";
    }
    return "media part";
}

} // namespace

Prompt promptFromConversation(const chat::ChatFormat& format, const chat::Conversation& conversation,
                              int embeddingWidth, bool imagesBidirectional) {
    chat::Prompt rendered = format.render(conversation);
    Prompt prompt;
    prompt.ids.assign(rendered.tokens.begin(), rendered.tokens.end());
    prompt.softTokens.reserve(rendered.spans.size());
    for (const chat::SoftTokenSpan& span : rendered.spans) {
        const chat::Part& part = conversation.messages.at(span.message).content.at(span.part);
        const chat::Embeddings& rows = span.kind == chat::MediaKind::VideoFrame
                                           ? part.frames.at(span.frame).embeddings
                                           : part.embeddings;
        const std::string where = std::string(kindName(span.kind)) + " in message " +
                                  std::to_string(span.message + 1) + ", part " +
                                  std::to_string(span.part + 1);
        if (!rows) throw Error(ErrorKind::InvalidArgument, "the " + where + " has not been encoded");
        if (rows->size() != span.count * static_cast<size_t>(embeddingWidth)) {
            throw Error(ErrorKind::InvalidArgument,
                        "the " + where + " has " + std::to_string(rows->size()) + " values, expected " +
                            std::to_string(span.count) + " soft tokens x " + std::to_string(embeddingWidth) +
                            " (was it encoded with an mmproj for another model?)");
        }
        prompt.softTokens.push_back({static_cast<int>(span.begin), static_cast<int>(span.count), *rows,
                                     span.kind != chat::MediaKind::Audio && imagesBidirectional});
    }
    return prompt;
}

MediaEncoders loadMediaEncoders(const std::string& mmproj, const Model& model, const std::string& modelPath) {
    MediaEncoders encoders;
    const auto text = model::HyperParams::fromFile(*gguf::File::open(modelPath));
    try {
        encoders.vision = loadVisionEncoder(mmproj, model);
        encoders.vision->checkCompatible(text, modelPath);
        encoders.imagesBidirectional =
            vision::imageTokensBidirectional(vision::ImageAttentionPolicy::HuggingFace, text);
    } catch (const std::exception& e) {
        encoders.vision.reset();
        encoders.visionProblem = e.what();
    }
    try {
        encoders.audio = loadAudioEncoder(mmproj, model);
        encoders.audio->checkCompatible(text, modelPath);
    } catch (const std::exception& e) {
        encoders.audio.reset();
        encoders.audioProblem = e.what();
    }
    return encoders;
}

} // namespace ocelle::engine
