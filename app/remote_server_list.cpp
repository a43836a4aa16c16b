#include "remote_server_list.h"

#include <QNetworkReply>
#include <QNetworkRequest>
#include <QSettings>

using ocelle::app::openai::ModelEntry;

namespace {
const QString kServersKey = QStringLiteral("remoteServers");

QString defaultName(const QUrl& url) {
    return url.port() > 0 ? QStringLiteral("%1:%2").arg(url.host()).arg(url.port()) : url.host();
}
} // namespace

RemoteServerList::RemoteServerList(QObject* parent) : QObject(parent) {
    QSettings settings;
    const int size = settings.beginReadArray(kServersKey);
    for (int i = 0; i < size; ++i) {
        settings.setArrayIndex(i);
        Server server;
        server.name = settings.value(QStringLiteral("name")).toString();
        server.baseUrl =
            ocelle::app::openai::normalizeBaseUrl(settings.value(QStringLiteral("baseUrl")).toString());
        server.apiKey = settings.value(QStringLiteral("apiKey")).toString();
        if (server.baseUrl.isValid()) servers_ << server;
    }
    settings.endArray();
    for (int i = 0; i < servers_.size(); ++i) fetch(i);
}

const RemoteServerList::Server* RemoteServerList::find(const QString& baseUrl) const {
    for (const Server& server : servers_)
        if (server.baseUrl.toString() == baseUrl) return &server;
    return nullptr;
}

QString RemoteServerList::nameOf(const QString& baseUrl) const {
    const Server* server = find(baseUrl);
    return server ? server->name : QString();
}

void RemoteServerList::save() const {
    QSettings settings;
    settings.remove(kServersKey);
    settings.beginWriteArray(kServersKey, int(servers_.size()));
    for (int i = 0; i < servers_.size(); ++i) {
        settings.setArrayIndex(i);
        settings.setValue(QStringLiteral("name"), servers_[i].name);
        settings.setValue(QStringLiteral("baseUrl"), servers_[i].baseUrl.toString());
        settings.setValue(QStringLiteral("apiKey"), servers_[i].apiKey);
    }
    settings.endArray();
}

QNetworkReply* RemoteServerList::requestModels(const Server& server) {
    QNetworkRequest request(ocelle::app::openai::endpointUrl(server.baseUrl, QStringLiteral("models")));
    if (!server.apiKey.isEmpty()) request.setRawHeader("Authorization", "Bearer " + server.apiKey.toUtf8());
    request.setTransferTimeout(kListTimeoutMs);
    return network_.get(request);
}

QList<ModelEntry> RemoteServerList::readModels(QNetworkReply* reply, const QString& serverName,
                                               QString* problem) {
    const QByteArray body = reply->readAll();
    const int status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    if (status >= 400) {
        *problem = tr("%1 refused the model list: %2")
                       .arg(serverName, ocelle::app::openai::httpErrorMessage(status, body));
        return {};
    }
    if (reply->error() == QNetworkReply::OperationCanceledError ||
        reply->error() == QNetworkReply::TimeoutError) {
        *problem = tr("%1 did not answer within %2 s.").arg(serverName).arg(kListTimeoutMs / 1000);
        return {};
    }
    if (reply->error() != QNetworkReply::NoError) {
        *problem = tr("Cannot reach %1: %2").arg(serverName, reply->errorString());
        return {};
    }
    try {
        QList<ModelEntry> models = ocelle::app::openai::parseModelList(body);
        if (models.isEmpty()) *problem = tr("%1 serves no models at the moment.").arg(serverName);
        return models;
    } catch (const std::exception& e) {
        *problem = tr("%1: %2").arg(serverName, QString::fromUtf8(e.what()));
        return {};
    }
}

void RemoteServerList::fetch(int index) {
    Server& server = servers_[index];
    server.checking = true;
    const QUrl baseUrl = server.baseUrl;
    QNetworkReply* reply = requestModels(server);
    connect(reply, &QNetworkReply::finished, this, [this, reply, baseUrl] {
        reply->deleteLater();
        for (Server& s : servers_) {
            if (s.baseUrl != baseUrl) continue; // removed meanwhile: nothing to update
            s.checking = false;
            s.problem.clear();
            s.models = readModels(reply, s.name, &s.problem);
            emit changed();
            return;
        }
    });
}

void RemoteServerList::refresh() {
    for (int i = 0; i < servers_.size(); ++i)
        if (!servers_[i].checking) fetch(i);
    emit changed();
}

void RemoteServerList::setAddProblem(const QString& problem) {
    addProblem_ = problem;
    emit addingChanged();
}

void RemoteServerList::add(const QString& name, const QString& baseUrl, const QString& apiKey) {
    cancelAdd();
    QString problem;
    const QUrl url = ocelle::app::openai::normalizeBaseUrl(baseUrl, &problem);
    if (!url.isValid()) {
        setAddProblem(problem);
        return;
    }
    if (const Server* existing = find(url.toString())) {
        setAddProblem(tr("%1 is already in the list as \u201c%2\u201d.").arg(url.toString(), existing->name));
        return;
    }
    candidate_ = Server();
    candidate_.name = name.trimmed().isEmpty() ? defaultName(url) : name.trimmed();
    candidate_.baseUrl = url;
    candidate_.apiKey = apiKey.trimmed();
    addProblem_.clear();
    QNetworkReply* reply = requestModels(candidate_);
    pendingAdd_ = reply;
    connect(reply, &QNetworkReply::finished, this, [this, reply] {
        reply->deleteLater();
        if (pendingAdd_ != reply) return; // cancelled
        pendingAdd_ = nullptr;
        QString why;
        candidate_.models = readModels(reply, candidate_.name, &why);
        if (candidate_.models.isEmpty()) {
            setAddProblem(why);
            return;
        }
        servers_ << candidate_;
        save();
        addProblem_.clear();
        emit addingChanged();
        emit changed();
        emit added(candidate_.name);
    });
    emit addingChanged();
}

void RemoteServerList::cancelAdd() {
    if (!pendingAdd_) return;
    QNetworkReply* reply = pendingAdd_;
    pendingAdd_ = nullptr;
    reply->abort();
    emit addingChanged();
}

bool RemoteServerList::remove(const QString& baseUrl) {
    for (qsizetype i = 0; i < servers_.size(); ++i) {
        if (servers_[i].baseUrl.toString() != baseUrl) continue;
        servers_.removeAt(i);
        save();
        emit changed();
        return true;
    }
    return false;
}
