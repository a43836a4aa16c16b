// ocelle: the desktop app. Optional arguments: a model file to open at start, and files to attach.
#include "attachment_list_model.h"
#include "chat_controller.h"
#include "model_controller.h"
#include "single_instance.h"
#include "theme.h"

#include "main_qml.h"

#include <QCommandLineParser>
#include <QElapsedTimer>
#include <QFileInfo>
#include <QGuiApplication>
#include <QIcon>
#include <QQmlApplicationEngine>
#include <QQuickWindow>
#include <QTimer>
#include <QtQml/qqmlextensionplugin.h>

#include <cstdio>

// Ocelle's QML modules are static libraries; this pulls their registrations into the executable.
Q_IMPORT_QML_PLUGIN(Ocelle_AppPlugin)
Q_IMPORT_QML_PLUGIN(Ocelle_UiPlugin)

namespace {

// Files from the command line or a later launch (the desktop entry passes the files it was opened
// with): images, videos, audio and PDFs go to the composer, as if dropped; anything else is
// opened as the model, whose loader says what is wrong with a file that is not one.
struct OpenedFiles {
    QStringList models;
    QList<QUrl> attachments;
};

OpenedFiles sortOpenedFiles(const QStringList& files) {
    OpenedFiles sorted;
    for (const QString& file : files) {
        if (!file.endsWith(QLatin1String(".gguf"), Qt::CaseInsensitive) &&
            AttachmentListModel::isAttachableFile(file))
            sorted.attachments << QUrl::fromLocalFile(QFileInfo(file).absoluteFilePath());
        else
            sorted.models << file;
    }
    return sorted;
}

} // namespace

int main(int argc, char** argv) {
    QElapsedTimer sinceStart;
    sinceStart.start();

    QGuiApplication app(argc, argv);
    QGuiApplication::setApplicationName(QStringLiteral("Ocelle"));
    QGuiApplication::setOrganizationName(QStringLiteral("Ocelle"));
    QGuiApplication::setApplicationVersion(QStringLiteral(OCELLE_VERSION));
    // Matches the installed desktop entry (resources/linux/), so desktops show its name and icon.
    QGuiApplication::setDesktopFileName(QStringLiteral("org.ocelle.Ocelle"));
    QGuiApplication::setWindowIcon(QIcon(QStringLiteral(":/ocelle/icons/ocelle.svg")));

    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("Chat with Google's Gemma 4 models on this computer."));
    parser.addHelpOption();
    parser.addVersionOption();
    parser.addPositionalArgument(
        QStringLiteral("files"),
        QStringLiteral(
            "A Gemma 4 GGUF model file to open, and images, videos, audio files or PDFs to attach."),
        QStringLiteral("[model.gguf] [files...]"));
    const QCommandLineOption firstFrameOption(
        QStringLiteral("quit-after-first-frame"),
        QStringLiteral("Print the time from start to the first frame on screen, then quit."));
    parser.addOption(firstFrameOption);
    const QCommandLineOption themeOption(QStringLiteral("theme"),
                                         QStringLiteral("Color scheme: system (the default), light or dark."),
                                         QStringLiteral("scheme"), QStringLiteral("system"));
    parser.addOption(themeOption);
    const QCommandLineOption sendOption(
        QStringLiteral("send"),
        QStringLiteral("Send this message once the model has loaded (for demos and screenshots)."),
        QStringLiteral("text"));
    parser.addOption(sendOption);
    const QCommandLineOption showModelsOption(
        QStringLiteral("show-models"),
        QStringLiteral("Open the model list at start (for demos and screenshots)."));
    parser.addOption(showModelsOption);
    parser.process(app);
    const OpenedFiles opened = sortOpenedFiles(parser.positionalArguments());
    if (opened.models.size() > 1) {
        std::fprintf(stderr, "ocelle: give at most one model file (see --help)\n");
        return 2;
    }

    const QString scheme = parser.value(themeOption);
    if (scheme != QLatin1String("system") && scheme != QLatin1String("light") &&
        scheme != QLatin1String("dark")) {
        std::fprintf(stderr, "ocelle: --theme must be system, light or dark (got '%s')\n",
                     qPrintable(scheme));
        return 2;
    }

    // One Ocelle per user: a second launch hands its files to the first and ends.
    SingleInstance instance;
    if (!instance.claimOrHandOver(parser.positionalArguments())) {
        std::printf("ocelle: Ocelle is already running; it comes to the front%s\n",
                    parser.positionalArguments().isEmpty() ? "" : " and opens the file given here");
        return 0;
    }

    QQmlApplicationEngine engine;
    // Qt 6.4 does not search the standard resource prefix of qt_add_qml_module by default.
    engine.addImportPath(QStringLiteral("qrc:/qt/qml"));
    engine.load(QUrl(QString::fromLatin1(ocelle::ui::kMainQmlUrl)));
    if (engine.rootObjects().isEmpty()) {
        std::fprintf(stderr, "ocelle: the main window could not be created (see the messages above)\n");
        return 1;
    }

    if (parser.isSet(showModelsOption))
        QMetaObject::invokeMethod(engine.rootObjects().constFirst(), "openModelList");
    // Main.qml applies the saved theme; --theme overrides it for this run.
    if (scheme == QLatin1String("light")) Theme::instance(&engine)->setMode(Theme::Mode::Light);
    if (scheme == QLatin1String("dark")) Theme::instance(&engine)->setMode(Theme::Mode::Dark);
    ModelController* models = ModelController::instance(&engine);
    QObject::connect(&instance, &SingleInstance::activated, &app, [&engine, models](const QStringList& files) {
        auto* window = qobject_cast<QQuickWindow*>(engine.rootObjects().constFirst());
        if (!window) return;
        if (window->visibility() == QWindow::Minimized || !window->isVisible()) window->showNormal();
        window->raise();
        window->requestActivate();
        const OpenedFiles opened = sortOpenedFiles(files);
        for (const QString& model : opened.models) models->openModelPath(model);
        if (!opened.attachments.isEmpty()) {
            QVariantList urls; // what a drop hands to filesDropped
            for (const QUrl& url : opened.attachments) urls << url;
            QMetaObject::invokeMethod(window, "filesDropped", Q_ARG(QVariant, urls));
        }
        std::printf("ocelle: another launch asked for this window (%lld file(s))\n",
                    static_cast<long long>(files.size()));
        std::fflush(stdout);
    });
    if (!opened.attachments.isEmpty()) {
        ChatController* chat = ChatController::instance(&engine);
        const int attached = chat->attachUrls(opened.attachments);
        std::printf("ocelle: attached %d of %lld file(s) to the message%s%s\n", attached,
                    static_cast<long long>(opened.attachments.size()),
                    attached < opened.attachments.size() ? ": " : "",
                    attached < opened.attachments.size() ? qPrintable(chat->notice()) : "");
        std::fflush(stdout);
    }
    // Whoever passed a path on the terminal wants to know what became of it, once it is known.
    const bool modelOnCommandLine = !opened.models.isEmpty();
    if (parser.isSet(sendOption)) {
        const QString text = parser.value(sendOption);
        ChatController* chat = ChatController::instance(&engine);
        QObject::connect(
            models, &ModelController::loadFinished, &app,
            [chat, text](bool ok) {
                if (ok) chat->send(text);
            },
            Qt::SingleShotConnection);
    }
    if (modelOnCommandLine) {
        QObject::connect(models, &ModelController::loadFinished, &app, [models] {
            std::printf("ocelle: %s\n", qPrintable(models->statusText()));
            std::fflush(stdout);
        });
        if (!models->openModelPath(opened.models.constFirst())) {
            std::printf("ocelle: %s\n", qPrintable(models->statusText()));
            std::fflush(stdout);
        }
    } else if (!parser.isSet(firstFrameOption)) {
        models->openLastModel(); // the model of the last session, loaded in the background
    }

    if (parser.isSet(firstFrameOption)) {
        auto* window = qobject_cast<QQuickWindow*>(engine.rootObjects().constFirst());
        if (!window) return 1;
        // Quit after the first frame, and after a model given on the command line has finished
        // loading (or failed), so its outcome is reported.
        auto quitWhenDone = [models] {
            if (models->busy()) {
                QObject::connect(models, &ModelController::loadFinished, qApp, &QCoreApplication::quit,
                                 Qt::QueuedConnection);
            } else {
                QTimer::singleShot(0, qApp, &QCoreApplication::quit);
            }
        };
        QObject::connect(
            window, &QQuickWindow::frameSwapped, &app,
            [&sinceStart, quitWhenDone] {
                std::printf("ocelle: first frame after %lld ms\n",
                            static_cast<long long>(sinceStart.elapsed()));
                std::fflush(stdout);
                quitWhenDone();
            },
            Qt::SingleShotConnection);
    }
    return app.exec();
}
