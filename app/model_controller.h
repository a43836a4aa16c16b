// Which model is loaded, and what Ocelle can tell about it. Opening a file first reads and
// validates its GGUF header on the GUI thread (cheap: the file is mapped, not read), so a wrong
// file is refused at once with a message naming the problem; the model itself is then loaded by
// the engine on its own thread while the window stays responsive. A projector (mmproj) next to
// the text model is paired automatically and decides which inputs besides text it accepts. A model
// on an OpenAI-compatible server (openRemoteModel) goes through the same engine thread: the host's
// SwitchingChatEngine hands it to RemoteChatEngine.
#pragma once

#include "chat_engine.h"
#include "engine_host.h"
#include "model_list_model.h"

#include <QObject>
#include <QString>
#include <QStringList>
#include <QUrl>
#include <QtQml/qqmlregistration.h>
#include <functional>
#include <memory>
#include <optional>

class QQmlEngine;
class QJSEngine;

class ModelController : public QObject {
    Q_OBJECT
    QML_ELEMENT
    QML_SINGLETON

    Q_PROPERTY(State state READ state NOTIFY changed)
    Q_PROPERTY(bool busy READ busy NOTIFY changed)
    Q_PROPERTY(bool modelLoaded READ modelLoaded NOTIFY changed)
    Q_PROPERTY(QString modelPath READ modelPath NOTIFY changed)
    Q_PROPERTY(QString fileName READ fileName NOTIFY changed)
    Q_PROPERTY(QString architecture READ architecture NOTIFY changed)
    Q_PROPERTY(QString modelName READ modelName NOTIFY changed)
    Q_PROPERTY(QString variant READ variant NOTIFY changed)
    Q_PROPERTY(QString quantization READ quantization NOTIFY changed)
    Q_PROPERTY(int tensorCount READ tensorCount NOTIFY changed)
    Q_PROPERTY(qint64 fileSize READ fileSize NOTIFY changed)
    Q_PROPERTY(QString fileSizeText READ fileSizeText NOTIFY changed)
    Q_PROPERTY(QString projectorPath READ projectorPath NOTIFY changed)
    Q_PROPERTY(QStringList inputs READ inputs NOTIFY changed)
    Q_PROPERTY(QString device READ device NOTIFY changed)
    Q_PROPERTY(QString deviceReason READ deviceReason NOTIFY changed)
    Q_PROPERTY(bool cpuFallback READ cpuFallback NOTIFY changed)
    Q_PROPERTY(double loadProgress READ loadProgress NOTIFY loadProgressChanged)
    // Settings for the next load (the settings page binds them): "auto", "cpu", "vulkan:<index>";
    // the context length in tokens. The model list's estimates follow them.
    Q_PROPERTY(QString deviceChoice READ deviceChoice WRITE setDeviceChoice NOTIFY settingsChanged)
    Q_PROPERTY(int requestedContextLength READ requestedContextLength WRITE setRequestedContextLength NOTIFY
                   settingsChanged)
    Q_PROPERTY(ModelListModel* library READ library CONSTANT)
    // The device setting's choices (see ModelListModel::devices), for the settings page.
    Q_PROPERTY(QVariantList devices READ devices NOTIFY devicesChanged)
    Q_PROPERTY(int contextLength READ contextLength NOTIFY changed)
    Q_PROPERTY(QString summary READ summary NOTIFY changed)
    Q_PROPERTY(QString statusText READ statusText NOTIFY changed)
    Q_PROPERTY(QString lastModelPath READ lastModelPath NOTIFY changed)
    // A model on an OpenAI-compatible server (openRemoteModel) rather than a file; serverName names it.
    Q_PROPERTY(bool remote READ remote NOTIFY changed)
    Q_PROPERTY(QString serverName READ serverName NOTIFY changed)

public:
    enum class State {
        NoModel, // nothing chosen, or unloaded
        Loading, // the header was valid; the engine is loading the weights
        Loaded,  // ready to answer
        Failed   // the chosen file cannot be used; statusText says why
    };
    Q_ENUM(State)

    // The app's controller: runs the real engine (GemmaChatEngine). No default argument: QML makes
    // its singleton through create() (Qt 6.4 prefers a default constructor over the factory).
    explicit ModelController(QObject* parent);
    // Tests hand in a scripted engine for model files (servers always get RemoteChatEngine).
    explicit ModelController(std::unique_ptr<ocelle::app::ChatEngine> engine, QObject* parent = nullptr);

    static ModelController* instance(QQmlEngine* engine);
    // QML's singleton factory: the real engine, unless a UI test installed another one first.
    static ModelController* create(QQmlEngine* qmlEngine, QJSEngine* jsEngine);
    using EngineFactory = std::function<std::unique_ptr<ocelle::app::ChatEngine>()>;
    // UI tests: the engine the QML singleton gets (a scripted one); empty restores the real one.
    static void setEngineFactoryForQml(EngineFactory factory);

    // Chooses a model file (a file: URL from the file dialog, or a plain local path) and starts
    // loading it. Returns true when the header is a usable Gemma 4 text model and loading began.
    Q_INVOKABLE bool openModelFile(const QUrl& file);
    bool openModelPath(const QString& path);
    // Chooses model `modelId` of the server added with base URL `serverUrl` (the model list's
    // ModelListModel.servers): the engine checks that the server still lists it, then answers go to
    // the server. False when that server is not in the list.
    Q_INVOKABLE bool openRemoteModel(const QString& serverUrl, const QString& modelId);
    // Opens the model remembered from the last successful load; false when there is none.
    Q_INVOKABLE bool openLastModel();
    // Stops waiting for the load in progress; the app returns to having no model.
    Q_INVOKABLE void cancelLoad();
    Q_INVOKABLE void unload();

    State state() const { return state_; }
    bool busy() const { return state_ == State::Loading; }
    bool modelLoaded() const { return state_ == State::Loaded; }
    QString modelPath() const { return modelPath_; }
    QString fileName() const;
    QString architecture() const { return architecture_; }
    QString modelName() const { return modelName_; }
    QString variant() const { return variant_; }
    QString quantization() const { return quantization_; }
    int tensorCount() const { return tensorCount_; }
    qint64 fileSize() const { return fileSize_; }
    QString fileSizeText() const;
    QString projectorPath() const { return projectorPath_; }
    QStringList inputs() const { return inputs_; }
    QString device() const { return device_; }
    QString deviceReason() const { return deviceReason_; }
    bool cpuFallback() const { return cpuFallback_; }
    double loadProgress() const { return loadProgress_; }
    QString deviceChoice() const { return deviceChoice_; }
    void setDeviceChoice(const QString& choice);
    int requestedContextLength() const { return requestedContextLength_; }
    void setRequestedContextLength(int tokens);
    ModelListModel* library() { return &library_; }
    QVariantList devices() const { return library_.devices(); }
    int contextLength() const { return contextLength_; }
    QString summary() const;
    QString statusText() const { return statusText_; }
    QString lastModelPath() const;
    bool remote() const { return remote_; }
    QString serverName() const { return serverName_; }
    // What a remote model's server says it takes: nullopt when the server does not say.
    std::optional<bool> remoteImages() const { return remoteImages_; }
    std::optional<bool> remoteAudio() const { return remoteAudio_; }

    ocelle::app::EngineHost* engineHost() { return &host_; }

signals:
    void changed();
    // A load finished (either way); tests and the command line wait for it.
    void loadFinished(bool ok);
    void loadProgressChanged();
    void settingsChanged();
    void devicesChanged();

private:
    void fail(const QString& path, const QString& message);
    void clearFacts();
    void onLoadSucceeded(quint64 ticket, const ocelle::app::LoadedModelFacts& facts);
    void onLoadProgress(quint64 ticket, double fraction);
    void setLoadProgress(double fraction);
    void onLoadFailed(quint64 ticket, const QString& message);

    ocelle::app::EngineHost host_;
    ModelListModel library_;
    quint64 loadTicket_ = 0;
    State state_ = State::NoModel;
    QString modelPath_;
    QString architecture_;
    QString modelName_;
    QString variant_;
    QString quantization_;
    int tensorCount_ = 0;
    qint64 fileSize_ = 0;
    QString projectorPath_;
    QStringList inputs_;
    QString device_;
    QString deviceReason_;
    bool cpuFallback_ = false;
    double loadProgress_ = 0;
    QString deviceChoice_ = QStringLiteral("auto");
    int requestedContextLength_ = 4096;
    int contextLength_ = 0;
    qint64 memoryBytes_ = 0;
    QString statusText_;
    bool remote_ = false;
    QString serverName_;
    std::optional<bool> remoteImages_;
    std::optional<bool> remoteAudio_;
};
