// The app's local server (LocalServer in QML) with the real engine and the fixture model: off by
// default, started by the switch once a model is loaded, answering over HTTP on the model's own
// weights, counting what it answered, restarting for a key, warning for a non-loopback address,
// and stopping when the model is unloaded or the switch is turned off.
#include "gemma_chat_engine.h"
#include "local_server_controller.h"
#include "model_controller.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QSettings>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QtTest>

namespace {

struct Reply {
    int status = 0;
    QJsonObject json;
};

Reply send(QNetworkAccessManager& network, const QString& url, const QByteArray& body = {},
           const QString& key = {}) {
    QNetworkRequest request{QUrl(url)};
    request.setHeader(QNetworkRequest::ContentTypeHeader, "application/json");
    if (!key.isEmpty()) request.setRawHeader("Authorization", "Bearer " + key.toUtf8());
    QNetworkReply* reply = body.isNull() ? network.get(request) : network.post(request, body);
    QSignalSpy finished(reply, &QNetworkReply::finished);
    if (!finished.wait(120000)) return {};
    Reply out;
    out.status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    out.json = QJsonDocument::fromJson(reply->readAll()).object();
    reply->deleteLater();
    return out;
}

} // namespace

class TestLocalServer : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() {
        QStandardPaths::setTestModeEnabled(true); // QSettings go to a test location
        QCoreApplication::setOrganizationName(QStringLiteral("OcelleTests"));
        QCoreApplication::setApplicationName(QStringLiteral("test_local_server"));
        QSettings().clear();
    }

    void servesTheLoadedModelWhileSwitchedOn() {
        ModelController models(std::make_unique<ocelle::app::GemmaChatEngine>());
        LocalServerController server(&models);
        QVERIFY(!server.enabled()); // off by default
        QCOMPARE(server.host(), QStringLiteral("127.0.0.1"));
        QVERIFY(server.warning().isEmpty());
        server.setPort(0); // any free port
        server.setEnabled(true);
        QTRY_VERIFY(server.statusText().contains("waits for a model"));
        QVERIFY(!server.running());

        QSignalSpy loaded(&models, &ModelController::loadFinished);
        QVERIFY(models.openModelPath(QStringLiteral(OCELLE_FIXTURES_DIR "/models/tiny-gemma4-e.gguf")));
        QVERIFY(loaded.wait(120000));
        QVERIFY(models.modelLoaded());
        QTRY_VERIFY_WITH_TIMEOUT(server.running(), 60000);
        QVERIFY2(server.url().startsWith("http://127.0.0.1:") && server.url().endsWith("/v1"),
                 qPrintable(server.url()));
        QVERIFY(server.statusText().contains(server.url()));

        QNetworkAccessManager network;
        const Reply list = send(network, server.url() + "/models");
        QCOMPARE(list.status, 200);
        QCOMPARE(list.json["data"].toArray().at(0).toObject()["id"].toString(),
                 QStringLiteral("tiny-gemma4-e"));
        const QByteArray chat =
            QJsonDocument(
                QJsonObject{{"model", "tiny-gemma4-e"},
                            {"max_tokens", 3},
                            {"messages", QJsonArray{QJsonObject{{"role", "user"}, {"content", "Hi"}}}}})
                .toJson(QJsonDocument::Compact);
        const Reply answer = send(network, server.url() + "/chat/completions", chat);
        QCOMPARE(answer.status, 200);
        QCOMPARE(answer.json["usage"].toObject()["completion_tokens"].toInt(), 3);
        QTRY_COMPARE(server.requestsServed(), 1);
        QVERIFY2(server.statusText().contains("1 request"), qPrintable(server.statusText()));

        // A key restarts the server; requests without it are refused.
        server.setApiKey(QStringLiteral("secret"));
        QTRY_VERIFY_WITH_TIMEOUT(server.running() && server.requestsServed() == 0, 60000);
        QCOMPARE(send(network, server.url() + "/models").status, 401);
        QCOMPARE(send(network, server.url() + "/models", {}, "secret").status, 200);

        // Another address than this computer's own is allowed, with a warning.
        server.setHost(QStringLiteral("0.0.0.0"));
        QVERIFY(server.warning().contains("Other computers"));
        server.setHost(QStringLiteral("not an address"));
        QVERIFY(server.warning().contains("not an IP address"));
        server.setHost(QStringLiteral("127.0.0.1"));
        QVERIFY(server.warning().isEmpty());
        QTRY_VERIFY_WITH_TIMEOUT(server.running(), 60000);

        // The settings are kept.
        QCOMPARE(QSettings().value("server/enabled").toBool(), true);
        QCOMPARE(QSettings().value("server/apiKey").toString(), QStringLiteral("secret"));

        // Unloading the model stops the server; switching off says so.
        models.unload();
        QTRY_VERIFY(!server.running());
        QTRY_VERIFY(server.statusText().contains("waits for a model"));
        server.setEnabled(false);
        QTRY_COMPARE(server.statusText(), QStringLiteral("Off."));
    }
};

QTEST_GUILESS_MAIN(TestLocalServer)
#include "test_local_server.moc"
