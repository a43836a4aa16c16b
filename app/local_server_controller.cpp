#include "local_server_controller.h"

#include "engine_host.h"
#include "model_controller.h"
#include "openai_server.h"
#include "served_model.h"

#include <QHostAddress>
#include <QPointer>
#include <QQmlEngine>
#include <QSettings>
#include <QThread>

namespace {

QHostAddress addressOf(const QString& host) {
    return host == QLatin1String("localhost") ? QHostAddress(QHostAddress::LocalHost) : QHostAddress(host);
}

} // namespace

LocalServerController::LocalServerController(ModelController* models, QObject* parent)
    : QObject(parent), models_(models) {
    QSettings settings;
    enabled_ = settings.value(QStringLiteral("server/enabled"), false).toBool();
    host_ = settings.value(QStringLiteral("server/host"), host_).toString();
    port_ = settings.value(QStringLiteral("server/port"), port_).toInt();
    apiKey_ = settings.value(QStringLiteral("server/apiKey")).toString();
    applyTimer_.setSingleShot(true);
    applyTimer_.setInterval(300);
    connect(&applyTimer_, &QTimer::timeout, this, &LocalServerController::apply);
    if (models_) connect(models_, &ModelController::changed, this, &LocalServerController::scheduleApply);
    setStatus(enabled_ ? tr("On: waits for a model to be loaded.") : tr("Off."));
    scheduleApply();
}

LocalServerController::~LocalServerController() {
    stop();
    if (helper_) helper_->wait(); // a ServedModel still being made for a state that is gone
}

LocalServerController* LocalServerController::create(QQmlEngine* qmlEngine, QJSEngine*) {
    return new LocalServerController(ModelController::instance(qmlEngine));
}

void LocalServerController::setEnabled(bool on) {
    if (on == enabled_) return;
    enabled_ = on;
    saveSettings();
}

void LocalServerController::setHost(const QString& host) {
    const QString trimmed = host.trimmed();
    if (trimmed == host_ || trimmed.isEmpty()) return;
    host_ = trimmed;
    saveSettings();
}

void LocalServerController::setPort(int port) {
    if (port == port_ || port < 0 || port > 65535) return;
    port_ = port;
    saveSettings();
}

void LocalServerController::setApiKey(const QString& key) {
    if (key == apiKey_) return;
    apiKey_ = key;
    saveSettings();
}

QString LocalServerController::warning() const {
    const QHostAddress address = addressOf(host_);
    if (address.isNull()) return tr("“%1” is not an IP address (for example 127.0.0.1).").arg(host_);
    if (ocelle::server::isLoopback(address)) return {};
    return apiKey_.isEmpty()
               ? tr("Other computers on the network can use the model at this address, and no API "
                    "key is set.")
               : tr("Other computers on the network can use the model at this address (with the "
                    "API key).");
}

void LocalServerController::saveSettings() {
    QSettings settings;
    settings.setValue(QStringLiteral("server/enabled"), enabled_);
    settings.setValue(QStringLiteral("server/host"), host_);
    settings.setValue(QStringLiteral("server/port"), port_);
    settings.setValue(QStringLiteral("server/apiKey"), apiKey_);
    emit settingsChanged();
    scheduleApply();
}

void LocalServerController::scheduleApply() {
    applyTimer_.start();
}

void LocalServerController::setStatus(const QString& text) {
    statusText_ = text;
    emit stateChanged();
}

void LocalServerController::stop() {
    ++generation_;
    startingKey_.clear();
    if (!server_) return;
    server_.reset(); // stops a running answer, waits for the worker thread
    servedKey_.clear();
    url_.clear();
    emit stateChanged();
}

void LocalServerController::apply() {
    if (!enabled_) {
        stop();
        setStatus(tr("Off."));
        return;
    }
    if (!models_ || !models_->modelLoaded()) {
        stop();
        setStatus(tr("On: waits for a model to be loaded."));
        return;
    }
    std::shared_ptr<ocelle::engine::Model> model = models_->engineHost()->loadedModel();
    if (!model) {
        stop();
        setStatus(tr("On, but the loaded model cannot be served."));
        return;
    }
    const QHostAddress address = addressOf(host_);
    if (address.isNull()) {
        stop();
        setStatus(warning());
        return;
    }
    const QString modelPath = models_->modelPath(), projector = models_->projectorPath();
    const int contextLength = models_->contextLength();
    const QString key = QStringList{modelPath,
                                    projector,
                                    QString::number(contextLength),
                                    host_,
                                    QString::number(port_),
                                    apiKey_,
                                    QString::number(quintptr(model.get()))}
                            .join(QChar(0));
    if ((server_ && key == servedKey_) || key == startingKey_) return;
    stop();
    startingKey_ = key;
    setStatus(tr("Starting…"));

    // The server's own session and encoders are made off the GUI thread (an mmproj takes a while).
    struct Made {
        std::shared_ptr<ocelle::server::ServedModel> served;
        QString error;
    };
    auto made = std::make_shared<Made>();
    const quint64 ticket = generation_;
    QThread* helper = QThread::create([made, model, modelPath, projector, contextLength] {
        try {
            made->served = std::make_shared<ocelle::server::ServedModel>(
                model, modelPath.toStdString(), projector.toStdString(), contextLength);
        } catch (const std::exception& e) {
            made->error = QString::fromUtf8(e.what());
        }
    });
    if (helper_) helper_->wait(); // at most one helper at a time
    helper_ = helper;
    connect(helper, &QThread::finished, helper, &QObject::deleteLater);
    connect(helper, &QThread::finished, this, [this, made, ticket, key, address] {
        if (ticket != generation_) return; // the model or the settings changed meanwhile
        startingKey_.clear();
        if (!made->served) {
            setStatus(tr("The server could not start: %1").arg(made->error));
            return;
        }
        ocelle::server::ServerOptions options;
        options.address = address;
        options.port = quint16(port_);
        options.apiKey = apiKey_;
        auto server = std::make_unique<ocelle::server::OpenAiServer>(made->served, options);
        QString problem;
        if (!server->start(&problem)) {
            setStatus(tr("Cannot listen on %1:%2: %3").arg(host_).arg(port_).arg(problem));
            return;
        }
        server_ = std::move(server);
        servedKey_ = key;
        url_ = server_->baseUrl();
        served_ = 0;
        auto describe = [this] {
            setStatus(served_ == 1 ? tr("Serving at %1 · 1 request answered").arg(url_)
                                   : tr("Serving at %1 · %2 requests answered").arg(url_).arg(served_));
        };
        connect(server_.get(), &ocelle::server::OpenAiServer::requestsServedChanged, this,
                [this, describe](int n) {
                    served_ = n;
                    describe();
                });
        describe();
    });
    helper->start();
}
