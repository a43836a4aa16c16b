#include "input_support.h"

#include "model_controller.h"

#include "gguf/gguf.h"

#include <QCoreApplication>
#include <QFileInfo>

namespace {
QString tr(const char* text) {
    return QCoreApplication::translate("InputSupport", text);
}
} // namespace

InputSupport inputSupportOf(const ModelController& models) {
    InputSupport support;
    if (models.state() == ModelController::State::Loading) {
        support.imageRefusal = tr("Images can be attached once %1 has loaded.").arg(models.fileName());
        support.audioRefusal = tr("Audio can be attached once %1 has loaded.").arg(models.fileName());
        return support;
    }
    if (!models.modelLoaded()) {
        support.imageRefusal = tr("Images need a loaded model: open a Gemma 4 model with its mmproj file.");
        support.audioRefusal =
            tr("Audio needs a loaded model: open a Gemma 4 E2B or E4B model with its mmproj file.");
        return support;
    }
    if (models.remote()) {
        // Only what the server says is refused; a server that does not say gets the media and
        // answers with its own error if it cannot take them.
        if (models.remoteImages() == false)
            support.imageRefusal = tr("%1 on %2 takes no images (the server's model list says so).")
                                       .arg(models.fileName(), models.serverName());
        if (models.remoteAudio() == false)
            support.audioRefusal = tr("%1 on %2 takes no audio (the server's model list says so).")
                                       .arg(models.fileName(), models.serverName());
        return support;
    }
    const QString variant = models.variant();
    const bool largeVariant = variant == QLatin1String("26B-A4B") || variant == QLatin1String("31B");
    const QString noHearing =
        tr("Gemma 4 %1 does not take audio: only the E2B and E4B models hear.").arg(variant);
    const QString projector = models.projectorPath();
    if (projector.isEmpty()) {
        support.imageRefusal =
            tr("%1 has no mmproj file next to it, so it takes text only. Put its mmproj file "
               "(the image and audio encoders) in the same folder and open the model again.")
                .arg(models.fileName());
        support.audioRefusal = largeVariant ? noHearing : support.imageRefusal;
        return support;
    }
    bool vision = false, audio = false;
    const QString projectorName = QFileInfo(projector).fileName();
    try {
        const auto file = ocelle::gguf::File::open(projector.toStdString());
        vision = file->getBool("clip.has_vision_encoder").value_or(false);
        audio = file->getBool("clip.has_audio_encoder").value_or(false);
    } catch (const std::exception& e) {
        support.imageRefusal = tr("%1 cannot be read: %2").arg(projectorName, QString::fromUtf8(e.what()));
        support.audioRefusal = support.imageRefusal;
        return support;
    }
    if (!vision)
        support.imageRefusal =
            tr("%1 has no image encoder, so this model takes no images.").arg(projectorName);
    if (largeVariant)
        support.audioRefusal = noHearing;
    else if (!audio)
        support.audioRefusal =
            tr("%1 has no audio encoder, so this model takes no audio.").arg(projectorName);
    return support;
}
