// The app's side of the local OpenAI-compatible server (app/server): the settings (off by default,
// 127.0.0.1, port, optional API key; kept with QSettings under "server/"), and a server that follows
// the loaded model: it starts when the switch is on and a model is loaded, stops on unload, and
// restarts for another model or other settings. It answers on a session of its own on the same
// weights (ChatEngine::sharedModel), so a chat in the window and a request can both run. The status
// line says where it serves and how many requests it has answered.
#pragma once

#include <QObject>
#include <QPointer>
#include <QString>
#include <QThread>
#include <QTimer>
#include <QtQml/qqmlregistration.h>

#include <memory>

class ModelController;
class QQmlEngine;
class QJSEngine;

namespace ocelle::server {
class OpenAiServer;
class ServedModel;
} // namespace ocelle::server

class LocalServerController : public QObject {
    Q_OBJECT
    QML_NAMED_ELEMENT(LocalServer)
    QML_SINGLETON

    Q_PROPERTY(bool enabled READ enabled WRITE setEnabled NOTIFY settingsChanged)
    Q_PROPERTY(QString host READ host WRITE setHost NOTIFY settingsChanged)
    Q_PROPERTY(int port READ port WRITE setPort NOTIFY settingsChanged)
    Q_PROPERTY(QString apiKey READ apiKey WRITE setApiKey NOTIFY settingsChanged)
    // Set when the address lets other computers in (anything but 127.0.0.1 / ::1), or is not one.
    Q_PROPERTY(QString warning READ warning NOTIFY settingsChanged)
    Q_PROPERTY(bool running READ running NOTIFY stateChanged)
    Q_PROPERTY(QString url READ url NOTIFY stateChanged)
    Q_PROPERTY(int requestsServed READ requestsServed NOTIFY stateChanged)
    Q_PROPERTY(QString statusText READ statusText NOTIFY stateChanged)

public:
    LocalServerController(ModelController* models, QObject* parent = nullptr);
    ~LocalServerController() override;
    static LocalServerController* create(QQmlEngine* qmlEngine, QJSEngine* jsEngine);

    bool enabled() const { return enabled_; }
    void setEnabled(bool on);
    QString host() const { return host_; }
    void setHost(const QString& host);
    int port() const { return port_; }
    void setPort(int port); // 0: any free port (tests)
    QString apiKey() const { return apiKey_; }
    void setApiKey(const QString& key);
    QString warning() const;
    bool running() const { return server_ != nullptr; }
    QString url() const { return url_; }
    int requestsServed() const { return served_; }
    QString statusText() const { return statusText_; }

signals:
    void settingsChanged();
    void stateChanged();

private:
    void saveSettings();
    void scheduleApply();
    void apply();
    void stop();
    void setStatus(const QString& text);

    ModelController* models_;
    bool enabled_ = false;
    QString host_ = QStringLiteral("127.0.0.1");
    int port_ = 8080;
    QString apiKey_;
    QTimer applyTimer_; // settings typed in quick succession restart the server once
    std::unique_ptr<ocelle::server::OpenAiServer> server_;
    QString servedKey_;   // what the running server was started with (model, settings)
    QString startingKey_; // what the server being started will run with
    QPointer<QThread> helper_;
    quint64 generation_ = 0; // a ServedModel made on a helper thread for an older state is dropped
    QString url_;
    int served_ = 0;
    QString statusText_;
};
