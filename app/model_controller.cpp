#include "model_controller.h"

#include "gemma_chat_engine.h"
#include "model_file.h"
#include "switching_chat_engine.h"

#include <QDir>
#include <QFileInfo>
#include <QLocale>
#include <QQmlEngine>
#include <QSettings>
#include <QtQml/qqml.h>
#include <algorithm>

namespace {
const QString kLastModelKey = QStringLiteral("models/lastModel");
} // namespace

ModelController::ModelController(QObject* parent)
    : ModelController(std::make_unique<ocelle::app::GemmaChatEngine>(), parent) {}

ModelController::ModelController(std::unique_ptr<ocelle::app::ChatEngine> engine, QObject* parent)
    : QObject(parent), host_(std::make_unique<ocelle::app::SwitchingChatEngine>(std::move(engine))) {
    statusText_ = tr("No model loaded.");
    connect(&host_, &ocelle::app::EngineHost::loadSucceeded, this, &ModelController::onLoadSucceeded);
    connect(&host_, &ocelle::app::EngineHost::loadFailed, this, &ModelController::onLoadFailed);
    connect(&host_, &ocelle::app::EngineHost::loadProgress, this, &ModelController::onLoadProgress);
    connect(&library_, &ModelListModel::devicesChanged, this, &ModelController::devicesChanged);
    library_.setDeviceChoice(deviceChoice_);
    library_.setContextLength(requestedContextLength_);
}

void ModelController::setDeviceChoice(const QString& choice) {
    if (choice == deviceChoice_) return;
    deviceChoice_ = choice;
    library_.setDeviceChoice(choice);
    emit settingsChanged();
}

void ModelController::setRequestedContextLength(int tokens) {
    if (tokens < 1 || tokens == requestedContextLength_) return;
    requestedContextLength_ = tokens;
    library_.setContextLength(tokens);
    emit settingsChanged();
}

void ModelController::setLoadProgress(double fraction) {
    if (fraction == loadProgress_) return;
    loadProgress_ = fraction;
    emit loadProgressChanged();
}

void ModelController::onLoadProgress(quint64 ticket, double fraction) {
    if (ticket != loadTicket_ || state_ != State::Loading) return;
    setLoadProgress(std::clamp(fraction, 0.0, 1.0));
}

namespace {
ModelController::EngineFactory& qmlEngineFactory() {
    static ModelController::EngineFactory factory;
    return factory;
}
} // namespace

void ModelController::setEngineFactoryForQml(EngineFactory factory) {
    qmlEngineFactory() = std::move(factory);
}

ModelController* ModelController::create(QQmlEngine*, QJSEngine*) {
    // Unparented: the QML engine owns singletons made by a factory.
    if (const EngineFactory& factory = qmlEngineFactory()) return new ModelController(factory());
    return new ModelController(static_cast<QObject*>(nullptr));
}

ModelController* ModelController::instance(QQmlEngine* engine) {
    return engine->singletonInstance<ModelController*>(qmlTypeId("Ocelle.App", 1, 0, "ModelController"));
}

QString ModelController::fileName() const {
    if (remote_) return modelName_;
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
    if (remote_) {
        parts << tr("remote, on %1").arg(serverName_);
        parts << tr("inputs: %1").arg(inputs_.join(QStringLiteral(", ")));
        return parts.join(QStringLiteral(" \u00b7 "));
    }
    parts << (variant_.isEmpty() || variant_ == QLatin1String("other") ? tr("Gemma 4")
                                                                       : tr("Gemma 4 %1").arg(variant_));
    if (!quantization_.isEmpty()) parts << quantization_;
    parts << fileSizeText();
    parts << tr("inputs: %1").arg(inputs_.join(QStringLiteral(", ")));
    if (!device_.isEmpty()) parts << tr("on %1").arg(device_);
    return parts.join(QStringLiteral(" \u00b7 "));
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
    // Reading the header is cheap (the file is mapped, the weights are not read), so a wrong file
    // is refused at once with the reason.
    const ocelle::app::ModelFileFacts facts = ocelle::app::inspectModelFile(path);
    if (!facts.usable) {
        fail(facts.path, facts.problem);
        return false;
    }

    clearFacts();
    state_ = State::Loading;
    modelPath_ = facts.path;
    architecture_ = facts.architecture;
    modelName_ = facts.name;
    variant_ = facts.variant;
    quantization_ = facts.quantization;
    tensorCount_ = facts.tensorCount;
    fileSize_ = facts.fileSize;
    inputs_ = facts.inputs;
    projectorPath_ = facts.projectorPath;
    statusText_ = tr("Loading %1\u2026").arg(fileName());
    setLoadProgress(0);
    ocelle::app::LoadRequest request;
    request.modelPath = modelPath_.toStdString();
    request.projectorPath = projectorPath_.toStdString();
    request.device = deviceChoice_.toStdString();
    request.contextLength = requestedContextLength_;
    loadTicket_ = host_.requestLoad(request);
    library_.addOpenedFile(modelPath_);
    library_.setCurrentPath(modelPath_);
    emit changed();
    return true;
}

bool ModelController::openRemoteModel(const QString& serverUrl, const QString& modelId) {
    const RemoteServerList::Server* server = library_.servers()->find(serverUrl);
    if (!server) {
        fail(ModelListModel::remoteKey(serverUrl, modelId),
             tr("%1 is not in the server list (any more): add it with \u201cAdd a server\u2026\u201d.")
                 .arg(serverUrl));
        return false;
    }
    clearFacts();
    state_ = State::Loading;
    remote_ = true;
    serverName_ = server->name;
    modelPath_ = ModelListModel::remoteKey(serverUrl, modelId);
    modelName_ = modelId;
    inputs_ = QStringList{tr("text")};
    for (const auto& model : server->models) {
        if (model.id != modelId) continue;
        remoteImages_ = model.images;
        remoteAudio_ = model.audio;
    }
    if (remoteImages_.value_or(false)) inputs_ << tr("image");
    if (remoteAudio_.value_or(false)) inputs_ << tr("audio");
    statusText_ = tr("Connecting to %1 for %2\u2026").arg(serverName_, modelId);
    setLoadProgress(0);
    ocelle::app::LoadRequest request;
    request.remote = ocelle::app::RemoteModel{serverName_.toStdString(), serverUrl.toStdString(),
                                              server->apiKey.toStdString(), modelId.toStdString()};
    loadTicket_ = host_.requestLoad(request);
    library_.setCurrentPath(modelPath_);
    emit changed();
    return true;
}

void ModelController::onLoadSucceeded(quint64 ticket, const ocelle::app::LoadedModelFacts& facts) {
    if (ticket != loadTicket_ || state_ != State::Loading) return;
    state_ = State::Loaded;
    device_ = QString::fromStdString(facts.device);
    deviceReason_ = QString::fromStdString(facts.deviceReason);
    cpuFallback_ = facts.cpuFallback;
    contextLength_ = facts.contextLength;
    memoryBytes_ = facts.memoryBytes;
    setLoadProgress(1);
    if (remote_) {
        statusText_ = tr("%1 is ready: %2.").arg(fileName(), summary());
    } else {
        statusText_ = tr("%1 is loaded: %2. Context %3 tokens, %4 in memory.")
                          .arg(fileName(), summary())
                          .arg(contextLength_)
                          .arg(QLocale().formattedDataSize(memoryBytes_));
        // A server may be gone at the next start: only files are opened again by themselves.
        QSettings().setValue(kLastModelKey, modelPath_);
    }
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
    library_.setCurrentPath({});
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
    library_.setCurrentPath({});
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
    cpuFallback_ = false;
    contextLength_ = 0;
    memoryBytes_ = 0;
    remote_ = false;
    serverName_.clear();
    remoteImages_.reset();
    remoteAudio_.reset();
}

void ModelController::fail(const QString& path, const QString& message) {
    // A bad file leaves no model behind, even if one was loaded before.
    if (state_ == State::Loaded || state_ == State::Loading) host_.requestUnload();
    loadTicket_ = 0;
    clearFacts();
    state_ = State::Failed;
    modelPath_ = path;
    library_.setCurrentPath({});
    statusText_ = message;
    emit changed();
}
