// The OpenAI-compatible servers the user added ("Add a server…" in the model list), each with the
// models its GET /models lists. Kept in QSettings (name, base URL and API key; the key in plain
// text in the settings file, which the add dialog and the README say). The lists are fetched on
// the GUI thread without blocking it (QNetworkAccessManager is asynchronous); a server that cannot
// be reached stays listed with the reason until it is refreshed or removed.
#pragma once

#include "openai_client.h"

#include <QList>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QObject>
#include <QPointer>
#include <QUrl>
#include <QtQml/qqmlregistration.h>

class RemoteServerList : public QObject {
    Q_OBJECT
    QML_ELEMENT
    QML_UNCREATABLE("ModelController.library.servers is the app's server list")

    Q_PROPERTY(int count READ count NOTIFY changed)
    // A server is being checked before it is added; addProblem says why the last attempt failed.
    Q_PROPERTY(bool adding READ adding NOTIFY addingChanged)
    Q_PROPERTY(QString addProblem READ addProblem NOTIFY addingChanged)

public:
    struct Server {
        QString name;
        QUrl baseUrl; // normalized (openai::normalizeBaseUrl)
        QString apiKey;
        bool checking = false; // its model list is being fetched
        QString problem;       // why its model list could not be read
        QList<ocelle::app::openai::ModelEntry> models;
    };

    explicit RemoteServerList(QObject* parent = nullptr);

    int count() const { return static_cast<int>(servers_.size()); }
    const QList<Server>& servers() const { return servers_; }
    // The server with this base URL, nullptr when there is none.
    const Server* find(const QString& baseUrl) const;
    bool adding() const { return pendingAdd_ != nullptr; }
    QString addProblem() const { return addProblem_; }

    // Checks the server (GET /models with the key) and adds it when it answers with a model list;
    // otherwise addProblem says why. An empty name becomes the server's host and port.
    Q_INVOKABLE void add(const QString& name, const QString& baseUrl, const QString& apiKey);
    Q_INVOKABLE void cancelAdd();
    Q_INVOKABLE bool remove(const QString& baseUrl);
    // Fetches every server's model list again.
    Q_INVOKABLE void refresh();
    Q_INVOKABLE QString nameOf(const QString& baseUrl) const;

    // How long one model-list request may take.
    static constexpr int kListTimeoutMs = 10'000;

signals:
    void changed();
    void addingChanged();
    // A server was checked and added (the add dialog closes on it).
    void added(const QString& name);

private:
    QNetworkReply* requestModels(const Server& server);
    // The models in a finished reply, or the problem in words (empty list then).
    static QList<ocelle::app::openai::ModelEntry> readModels(QNetworkReply* reply, const QString& serverName,
                                                             QString* problem);
    void fetch(int index);
    void save() const;
    void setAddProblem(const QString& problem);

    QList<Server> servers_;
    QNetworkAccessManager network_;
    QPointer<QNetworkReply> pendingAdd_;
    Server candidate_; // the server being checked by add()
    QString addProblem_;
};
