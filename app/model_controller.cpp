#include "model_controller.h"

#include "gguf/gguf.h"

#include <QFileInfo>
#include <QLocale>
#include <QQmlEngine>
#include <QtQml/qqml.h>

namespace {

// The architecture name Gemma 4 text models carry in general.architecture.
constexpr const char* kGemma4Architecture = "gemma4";
// llama.cpp's projector files (mmproj: vision and audio towers) use this architecture name.
constexpr const char* kProjectorArchitecture = "clip";

} // namespace

ModelController::ModelController(QObject* parent) : QObject(parent) {
    statusText_ = tr("No model loaded.");
}

ModelController* ModelController::instance(QQmlEngine* engine) {
    return engine->singletonInstance<ModelController*>(qmlTypeId("Ocelle.App", 1, 0, "ModelController"));
}

QString ModelController::fileName() const {
    return modelPath_.isEmpty() ? QString() : QFileInfo(modelPath_).fileName();
}

bool ModelController::openModelFile(const QUrl& file) {
    if (file.isLocalFile()) return openModelPath(file.toLocalFile());
    if (file.scheme().isEmpty()) return openModelPath(file.toString()); // a bare path passed from QML
    fail(file.toString(),
         tr("Only files on this computer can be opened (got a %1: address).").arg(file.scheme()));
    return false;
}

bool ModelController::openModelPath(const QString& path) {
    if (path.isEmpty()) {
        fail(path, tr("No file was chosen."));
        return false;
    }
    const QString absolute = QFileInfo(path).absoluteFilePath();
    std::unique_ptr<ocelle::gguf::File> gguf;
    QString architecture;
    QString name;
    try {
        gguf = ocelle::gguf::File::open(absolute.toStdString());
        architecture = QString::fromStdString(gguf->getString("general.architecture").value_or(""));
        name = QString::fromStdString(gguf->getString("general.name").value_or(""));
    } catch (const ocelle::gguf::Error& e) {
        // The reader's message already names the file and the problem.
        fail(absolute, tr("Could not read the model: %1").arg(QString::fromStdString(e.what())));
        return false;
    }

    const QString shownName = QFileInfo(absolute).fileName();
    if (architecture.isEmpty()) {
        fail(absolute,
             tr("%1 has no general.architecture entry, so it is not a model Ocelle can run.").arg(shownName));
        return false;
    }
    if (architecture == QLatin1String(kProjectorArchitecture)) {
        fail(absolute, tr("%1 is a projector (mmproj) file for images and audio. Open the Gemma 4 text "
                          "model first; its mmproj file goes with it.")
                           .arg(shownName));
        return false;
    }
    if (architecture != QLatin1String(kGemma4Architecture)) {
        fail(absolute,
             tr("%1 is a \"%2\" model. Ocelle runs Gemma 4 (gemma4) models.").arg(shownName, architecture));
        return false;
    }
    if (gguf->tensors().empty()) {
        fail(absolute,
             tr("%1 holds no weights (a vocabulary-only file). Open a full Gemma 4 model.").arg(shownName));
        return false;
    }

    state_ = State::Inspected;
    modelPath_ = absolute;
    architecture_ = architecture;
    modelName_ = name;
    tensorCount_ = static_cast<int>(gguf->tensors().size());
    fileSize_ = static_cast<qint64>(gguf->fileSize());
    statusText_ = tr("%1: Gemma 4 (%2), %3 tensors, %4, GGUF v%5. Its header is valid; running models "
                     "arrives with the engine.")
                      .arg(shownName, architecture_)
                      .arg(tensorCount_)
                      .arg(QLocale().formattedDataSize(fileSize_))
                      .arg(gguf->version());
    emit changed();
    return true;
}

void ModelController::fail(const QString& path, const QString& message) {
    state_ = State::Failed;
    modelPath_ = path;
    architecture_.clear();
    modelName_.clear();
    tensorCount_ = 0;
    fileSize_ = 0;
    statusText_ = message;
    emit changed();
}
