#include "single_instance.h"

#include <QCryptographicHash>
#include <QDir>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QLocalSocket>
#include <QStandardPaths>

SingleInstance::SingleInstance(const QString& name, QObject* parent) : QObject(parent), name_(name) {
    connect(&server_, &QLocalServer::newConnection, this, &SingleInstance::onConnection);
}

QString SingleInstance::defaultName() {
    const QString configured = qEnvironmentVariable("OCELLE_INSTANCE");
    if (!configured.isEmpty()) return configured;
    // Local socket names share one namespace per machine: make the name the user's own.
    const QByteArray home = QDir::homePath().toUtf8();
    return QStringLiteral("ocelle-") +
           QString::fromLatin1(QCryptographicHash::hash(home, QCryptographicHash::Sha256).toHex().left(16));
}

bool SingleInstance::claimOrHandOver(const QStringList& files, int timeoutMs) {
    QLocalSocket socket;
    socket.connectToServer(name_);
    if (socket.waitForConnected(timeoutMs / 3)) {
        QJsonArray paths;
        for (const QString& file : files) paths.append(QFileInfo(file).absoluteFilePath());
        socket.write(QJsonDocument(paths).toJson(QJsonDocument::Compact) + '\n');
        socket.flush();
        const bool sent = socket.waitForBytesWritten(timeoutMs / 3) || socket.bytesToWrite() == 0;
        socket.disconnectFromServer();
        if (socket.state() != QLocalSocket::UnconnectedState) socket.waitForDisconnected(timeoutMs / 3);
        if (sent) return false;
    }
    // Nobody answered: a socket file left by a crashed instance would block listen().
    QLocalServer::removeServer(name_);
    server_.setSocketOptions(QLocalServer::UserAccessOption);
    if (!server_.listen(name_)) {
        // Without the server this instance still works, only later launches will not find it.
        qWarning("ocelle: cannot listen for other launches (%s)", qPrintable(server_.errorString()));
    }
    return true;
}

void SingleInstance::onConnection() {
    while (QLocalSocket* socket = server_.nextPendingConnection()) {
        connect(socket, &QLocalSocket::disconnected, socket, &QObject::deleteLater);
        connect(socket, &QLocalSocket::readyRead, this, [this, socket] {
            if (!socket->canReadLine()) return;
            const QJsonDocument message = QJsonDocument::fromJson(socket->readLine());
            QStringList files;
            for (const QJsonValue& path : message.array())
                if (path.isString()) files << path.toString();
            emit activated(files);
        });
    }
}
