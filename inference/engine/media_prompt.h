// A chat conversation with images, document pages, video frames and audio into the engine's
// prompt: the chat format renders the placeholders and this attaches each encoder output to its
// run of positions. The one way text + media become an engine::Prompt (ocelle-cli run, the app).
//
//     chat::Conversation c;  // parts from media/media_encoding.h carry their embeddings
//     engine::Prompt prompt = engine::promptFromConversation(format, c, model.embeddingLength(),
//                                                            vision::imageTokensBidirectional(...));
#pragma once

#include "audio/audio_encoder.h"
#include "chat/chat_format.h"
#include "engine/engine.h"
#include "vision/vision_encoder.h"

#include <memory>
#include <string>

namespace ocelle::engine {

// Renders `conversation` and puts every media part's embeddings at its placeholders. Images and
// video frames get `imagesBidirectional` (each image/frame its own run); audio stays causal.
// Throws engine::Error (InvalidArgument) when a media part carries no embeddings or rows of
// another size than `embeddingWidth`; chat::Error for a malformed conversation.
Prompt promptFromConversation(const chat::ChatFormat& format, const chat::Conversation& conversation,
                              int embeddingWidth, bool imagesBidirectional);

// The encoders of an mmproj file for a loaded text model, on the model's backend and device. An
// input whose tower the file lacks, or whose encoder does not fit the model, is left empty and its
// reason kept in words for the user.
struct MediaEncoders {
    std::unique_ptr<vision::VisionEncoder> vision;
    std::unique_ptr<audio::AudioEncoder> audio;
    std::string visionProblem, audioProblem;
    bool imagesBidirectional = false; // for promptFromConversation, under Hugging Face's policy
};
// `modelPath` is the text model's file (its hyperparameters decide the image attention).
MediaEncoders loadMediaEncoders(const std::string& mmproj, const Model& model, const std::string& modelPath);

} // namespace ocelle::engine
