// A chat conversation with images, document pages, video frames and audio into the engine's
// prompt: the chat format renders the placeholders and this attaches each encoder output to its
// run of positions. The one way text + media become an engine::Prompt (ocelle-cli run, the app).
//
//     chat::Conversation c;  // parts from media/media_encoding.h carry their embeddings
//     engine::Prompt prompt = engine::promptFromConversation(format, c, model.embeddingLength(),
//                                                            vision::imageTokensBidirectional(...));
#pragma once

#include "chat/chat_format.h"
#include "engine/engine.h"

namespace ocelle::engine {

// Renders `conversation` and puts every media part's embeddings at its placeholders. Images and
// video frames get `imagesBidirectional` (each image/frame its own run); audio stays causal.
// Throws engine::Error (InvalidArgument) when a media part carries no embeddings or rows of
// another size than `embeddingWidth`; chat::Error for a malformed conversation.
Prompt promptFromConversation(const chat::ChatFormat& format, const chat::Conversation& conversation,
                              int embeddingWidth, bool imagesBidirectional);

} // namespace ocelle::engine
