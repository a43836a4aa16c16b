// A turn's media as OpenAI content parts for a remote server: images as "image_url" parts with
// data: URLs (the file's own PNG/JPEG/WebP/GIF bytes; BMP and TIFF converted to PNG), audio as an
// "input_audio" part (WAV and MP3 as they are, other formats decoded and sent as 16 kHz WAV), a
// video as its sampled frames, each after its "mm:ss" time (like the local prompt), and a PDF page
// as "Page N of M:" and the page rendered at the document budget. The server's own encoders do
// the rest.
#pragma once

#include "chat_engine.h"

#include <QJsonArray>

namespace ocelle::app {

// Throws EngineError naming the file when it cannot be read or converted.
QJsonArray remoteContentParts(const TurnMedia& media);

} // namespace ocelle::app
