// Which inputs besides text the loaded model takes, and in plain words why not when it does not:
// images need an mmproj with a vision tower; audio needs an edge model (E2B, E4B: 26B and 31B have
// no audio encoder) and an mmproj with an audio tower. Video frames and PDF pages are images. A
// model on a server takes what the server's model list says, and anything when it does not say.
#pragma once

#include <QString>

class ModelController;

struct InputSupport {
    QString imageRefusal; // empty: images are taken
    QString audioRefusal; // empty: audio is taken
};

InputSupport inputSupportOf(const ModelController& models);
