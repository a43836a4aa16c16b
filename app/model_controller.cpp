#include "model_controller.h"

#include "gemma_chat_engine.h"
#include "gguf/gguf.h"
#include "gguf/tensor_types.h"
#include "model/hparams.h"

#include <QDir>
#include <QFileInfo>
#include <QLocale>
#include <QQmlEngine>
#include <QRegularExpression>
#include <QSettings>
#include <QtQml/qqml.h>
#include <map>

namespace {

// The architecture name Gemma 4 text models carry in general.architecture.
constexpr const char* kGemma4Architecture = "gemma4";
// llama.cpp's projector files (mmproj: vision and audio towers) use this architecture name.
constexpr const char* kProjectorArchitecture = "clip";
const QString kLastModelKey = QStringLiteral("models/lastModel");

// The weight type holding most of the file's bytes: what people call the quantization.
QString dominantWeightType(const ocelle::gguf::File& file) {
    std::map<uint32_t, uint64_t> bytesByType;
    for (const auto& tensor : file.tensors()) bytesByType[tensor.rawType] += tensor.nbytes;
    uint32_t best = 0;
    uint64_t bestBytes = 0;
    for (const auto& [type, bytes] : bytesByType) {
        if (bytes > bestBytes) {
            best = type;
            bestBytes = bytes;
        }
    }
    return bestBytes == 0 ? QString() : QString::fromStdString(ocelle::gguf::typeName(best));
}

// Lower case, without "mmproj" and separators: "mmproj-gemma-4-E2B-f16" -> "gemma4e2bf16".
QString comparableName(QString name) {
    name = name.toLower();
    name.remove(QStringLiteral("mmproj"));
    name.remove(QRegularExpression(QStringLiteral("[^a-z0-9]")));
    return name;
}

int commonPrefixLength(const QString& a, const QString& b) {
    int n = 0;
    while (n < a.size() && n < b.size() && a[n] == b[n]) ++n;
    return n;
}

} // namespace

ModelController::ModelController(QObject* parent)
    : ModelController(std::make_unique<ocelle::app::GemmaChatEngine>(), parent) {}

ModelController::ModelController(std::unique_ptr<ocelle::app::ChatEngine> engine, QObject* parent)
    : QObject(parent), host_(std::move(engine)) {
    statusText_ = tr("No model loaded.");
    connect(&host_, &ocelle::app::EngineHost::loadSucceeded, this, &ModelController::onLoadSucceeded);
    connect(&host_, &ocelle::app::EngineHost::loadFailed, this, &ModelController::onLoadFailed);
}

ModelController* ModelController::instance(QQmlEngine* engine) {
    return engine->singletonInstance<ModelController*>(qmlTypeId("Ocelle.App", 1, 0, "ModelController"));
}

QString ModelController::fileName() const {
    return modelPath_.isEmpty() ? QString() : QFileInfo(modelPath_).fileName();
}

QString ModelController::fileSizeText() const {
    return fileSize_ > 0 ? QLocale().formattedDataSize(fileSize_) : QString();
}

QString ModelController::lastModelPath() const {
    return QSettings().value(kLastModelKey).toString();
}

QString ModelController::summary() const {
    if (state_ != State::Loading && state_ != State::Loaded) return {};
    QStringList parts;
    parts << (variant_.isEmpty() || variant_ == QLatin1String("other") ? tr("Gemma 4")
                                                                       : tr("Gemma 4 %1").arg(variant_));
    if (!quantization_.isEmpty()) parts << quantization_;
    parts << fileSizeText();
    parts << tr("inputs: %1").arg(inputs_.join(QStringLiteral(", ")));
    if (!device_.isEmpty()) parts << tr("on %1").arg(device_);
    return parts.join(QStringLiteral(" \u00b7 "));
}

QString ModelController::findProjectorFor(const QString& modelPath) {
    const QFileInfo model(modelPath);
    const QString modelKey = comparableName(model.completeBaseName());
    QString best;
    int bestScore = -1;
    int candidates = 0;
    const QFileInfoList files =
        model.dir().entryInfoList({QStringLiteral("*.gguf"), QStringLiteral("*.GGUF")}, QDir::Files);
    for (const QFileInfo& file : files) {
        if (file.absoluteFilePath() == model.absoluteFilePath()) continue;
        if (!file.fileName().contains(QLatin1String("mmproj"), Qt::CaseInsensitive)) continue;
        try {
            const auto gguf = ocelle::gguf::File::open(file.absoluteFilePath().toStdString());
            if (gguf->getString("general.architecture").value_or("") != kProjectorArchitecture) continue;
        } catch (const std::exception&) {
            continue; // an unreadable neighbour is not ours to complain about
        }
        ++candidates;
        const int score = commonPrefixLength(comparableName(file.completeBaseName()), modelKey);
        if (score > bestScore) {
            bestScore = score;
            best = file.absoluteFilePath();
        }
    }
    // With several projectors in the folder, only one that shares the model's name counts.
    if (candidates > 1 && bestScore < 4) return {};
    return best;
}

bool ModelController::openModelFile(const QUrl& file) {
    if (file.isLocalFile()) return openModelPath(file.toLocalFile());
    if (file.scheme().isEmpty()) return openModelPath(file.toString()); // a bare path passed from QML
    fail(file.toString(),
         tr("Only files on this computer can be opened (got a %1: address).").arg(file.scheme()));
    return false;
}

bool ModelController::openLastModel() {
    const QString last = lastModelPath();
    if (last.isEmpty()) return false;
    return openModelPath(last);
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
    QString variant;
    try {
        variant = QString::fromLatin1(
            ocelle::model::variantName(ocelle::model::HyperParams::fromFile(*gguf).variant));
    } catch (const std::exception& e) {
        fail(absolute,
             tr("%1 is not a complete Gemma 4 model: %2").arg(shownName, QString::fromUtf8(e.what())));
        return false;
    }

    clearFacts();
    state_ = State::Loading;
    modelPath_ = absolute;
    architecture_ = architecture;
    modelName_ = name;
    variant_ = variant;
    quantization_ = dominantWeightType(*gguf);
    tensorCount_ = static_cast<int>(gguf->tensors().size());
    fileSize_ = static_cast<qint64>(gguf->fileSize());
    inputs_ = {tr("text")};
    projectorPath_ = findProjectorFor(absolute);
    if (!projectorPath_.isEmpty()) {
        try {
            const auto projector = ocelle::gguf::File::open(projectorPath_.toStdString());
            if (projector->getBool("clip.has_vision_encoder").value_or(false)) inputs_ << tr("image");
            if (projector->getBool("clip.has_audio_encoder").value_or(false)) inputs_ << tr("audio");
        } catch (const std::exception&) {
            projectorPath_.clear();
        }
    }
    statusText_ = tr("Loading %1\u2026").arg(shownName);
    loadTicket_ = host_.requestLoad(absolute);
    emit changed();
    return true;
}

void ModelController::onLoadSucceeded(quint64 ticket, const QString& device, const QString& deviceReason,
                                      int contextLength, qint64 memoryBytes) {
    if (ticket != loadTicket_ || state_ != State::Loading) return;
    state_ = State::Loaded;
    device_ = device.compare(QLatin1String("cpu"), Qt::CaseInsensitive) == 0 ? QStringLiteral("CPU") : device;
    deviceReason_ = deviceReason;
    contextLength_ = contextLength;
    memoryBytes_ = memoryBytes;
    statusText_ = tr("%1 is loaded: %2. Context %3 tokens, %4 in memory.")
                      .arg(fileName(), summary())
                      .arg(contextLength_)
                      .arg(QLocale().formattedDataSize(memoryBytes_));
    QSettings().setValue(kLastModelKey, modelPath_);
    emit changed();
    emit loadFinished(true);
}

void ModelController::onLoadFailed(quint64 ticket, const QString& message) {
    if (ticket != loadTicket_ || state_ != State::Loading) return;
    fail(modelPath_, tr("Could not load the model: %1").arg(message));
    emit loadFinished(false);
}

void ModelController::cancelLoad() {
    if (state_ != State::Loading) return;
    host_.abandonLoad();
    loadTicket_ = 0;
    const QString name = fileName();
    clearFacts();
    state_ = State::NoModel;
    modelPath_.clear();
    statusText_ = tr("Loading %1 was cancelled. No model loaded.").arg(name);
    emit changed();
    emit loadFinished(false);
}

void ModelController::unload() {
    if (state_ == State::Loading) {
        cancelLoad();
        return;
    }
    if (state_ != State::Loaded) return;
    host_.requestUnload();
    clearFacts();
    state_ = State::NoModel;
    modelPath_.clear();
    statusText_ = tr("The model was unloaded. No model loaded.");
    emit changed();
}

void ModelController::clearFacts() {
    architecture_.clear();
    modelName_.clear();
    variant_.clear();
    quantization_.clear();
    tensorCount_ = 0;
    fileSize_ = 0;
    projectorPath_.clear();
    inputs_.clear();
    device_.clear();
    deviceReason_.clear();
    contextLength_ = 0;
    memoryBytes_ = 0;
}

void ModelController::fail(const QString& path, const QString& message) {
    // A bad file leaves no model behind, even if one was loaded before.
    if (state_ == State::Loaded || state_ == State::Loading) host_.requestUnload();
    loadTicket_ = 0;
    clearFacts();
    state_ = State::Failed;
    modelPath_ = path;
    statusText_ = message;
    emit changed();
}
