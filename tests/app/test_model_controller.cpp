// ModelController: choosing a model file validates its GGUF header, then loads it on the engine
// thread and says what it found, or why the file cannot be used, in words a user can act on.
#include "gemma_chat_engine.h"
#include "model_controller.h"
#include "model_file.h"
#include "scripted_chat_engine.h"

#include <QSettings>
#include <QStandardPaths>

#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtEndian>
#include <QtTest>

namespace {

const QString kFixtures = QStringLiteral(OCELLE_FIXTURES_DIR);
QString fixture(const char* relative) {
    return kFixtures + QLatin1Char('/') + QLatin1String(relative);
}

// The tensor count as the GGUF header stores it (bytes 8..15 after magic and version), read here
// without the GGUF reader so the controller's number is checked against the file itself.
quint64 rawTensorCount(const QString& path) {
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly)) return 0;
    const QByteArray header = file.read(16);
    if (header.size() != 16) return 0;
    return qFromLittleEndian<quint64>(header.constData() + 8);
}

// A minimal GGUF v3 file: no tensors, string metadata only.
void appendString(QByteArray& out, const QByteArray& s) {
    char length[8];
    qToLittleEndian<quint64>(static_cast<quint64>(s.size()), length);
    out.append(length, 8);
    out.append(s);
}
QByteArray minimalGguf(const QList<QPair<QByteArray, QByteArray>>& stringMetadata) {
    QByteArray out("GGUF");
    char word[8];
    qToLittleEndian<quint32>(3, word);
    out.append(word, 4);
    qToLittleEndian<quint64>(0, word); // tensors
    out.append(word, 8);
    qToLittleEndian<quint64>(static_cast<quint64>(stringMetadata.size()), word);
    out.append(word, 8);
    for (const auto& [key, value] : stringMetadata) {
        appendString(out, key);
        qToLittleEndian<quint32>(8, word); // string type
        out.append(word, 4);
        appendString(out, value);
    }
    return out;
}

bool writeFile(const QString& path, const QByteArray& bytes) {
    QFile file(path);
    return file.open(QIODevice::WriteOnly) && file.write(bytes) == bytes.size();
}

} // namespace

class TestModelController : public QObject {
    Q_OBJECT

private slots:
    void startsWithNoModel() {
        ModelController controller(std::make_unique<ocelle::app::GemmaChatEngine>());
        QCOMPARE(controller.state(), ModelController::State::NoModel);
        QVERIFY(controller.modelPath().isEmpty());
        QVERIFY(!controller.modelLoaded());
        QVERIFY(!controller.statusText().isEmpty());
    }

    void initTestCase() {
        QStandardPaths::setTestModeEnabled(true); // QSettings go to a test location
        QCoreApplication::setOrganizationName(QStringLiteral("OcelleTests"));
        QCoreApplication::setApplicationName(QStringLiteral("test_model_controller"));
        QSettings().clear();
    }

    void loadsAGemma4ModelOnTheEngineThread() {
        const QString path = fixture("models/tiny-gemma4-e.gguf");
        ModelController controller(std::make_unique<ocelle::app::GemmaChatEngine>()); // the real engine
        QSignalSpy finished(&controller, &ModelController::loadFinished);
        QVERIFY(controller.openModelFile(QUrl::fromLocalFile(path)));
        // The header facts are there at once; the weights load in the background.
        QCOMPARE(controller.state(), ModelController::State::Loading);
        QVERIFY(controller.busy());
        QVERIFY(!controller.modelLoaded());
        QCOMPARE(controller.modelPath(), QFileInfo(path).absoluteFilePath());
        QCOMPARE(controller.architecture(), QStringLiteral("gemma4"));
        const quint64 tensors = rawTensorCount(path);
        QVERIFY(tensors > 0);
        QCOMPARE(static_cast<quint64>(controller.tensorCount()), tensors);
        QCOMPARE(controller.fileSize(), QFileInfo(path).size());
        QCOMPARE(controller.variant(), QStringLiteral("other")); // a tiny test model, not E2B/E4B/...
        QVERIFY(!controller.quantization().isEmpty());
        QCOMPARE(controller.inputs(), QStringList{QStringLiteral("text")}); // no mmproj next to it

        QVERIFY(finished.wait(30000));
        QCOMPARE(finished.at(0).at(0).toBool(), true);
        QCOMPARE(controller.state(), ModelController::State::Loaded);
        QVERIFY(controller.modelLoaded());
        QCOMPARE(controller.device(), QStringLiteral("CPU"));
        QVERIFY(!controller.deviceReason().isEmpty());
        QVERIFY(controller.contextLength() > 0);
        const QString status = controller.statusText();
        QVERIFY2(status.contains(QStringLiteral("tiny-gemma4-e.gguf is loaded")), qPrintable(status));
        QVERIFY2(status.contains(QStringLiteral("CPU")), qPrintable(status));
        QCOMPARE(controller.lastModelPath(), QFileInfo(path).absoluteFilePath()); // remembered

        controller.unload();
        QCOMPARE(controller.state(), ModelController::State::NoModel);
        QVERIFY(!controller.modelLoaded());
        QCOMPARE(controller.lastModelPath(), QFileInfo(path).absoluteFilePath()); // still remembered
        QVERIFY(controller.openLastModel());
        QVERIFY(finished.wait(30000));
        QVERIFY(controller.modelLoaded());
    }

    void pairsTheProjectorNextToTheModel() {
        QTemporaryDir dir;
        const QString model = dir.filePath(QStringLiteral("tiny-gemma4-e.gguf"));
        QVERIFY(QFile::link(fixture("models/tiny-gemma4-e.gguf"), model));
        QCOMPARE(ocelle::app::findProjectorFor(model), QString());
        // A GGUF with "mmproj" in its name that is not a projector is not paired.
        QVERIFY(writeFile(dir.filePath(QStringLiteral("mmproj-fake.gguf")),
                          minimalGguf({{"general.architecture", "llama"}})));
        QCOMPARE(ocelle::app::findProjectorFor(model), QString());
        const QString projector = dir.filePath(QStringLiteral("tiny-gemma4-e-mmproj-f16.gguf"));
        QVERIFY(QFile::link(fixture("vision/tiny-gemma4-e-mmproj.gguf"), projector));
        QCOMPARE(ocelle::app::findProjectorFor(model), QFileInfo(projector).absoluteFilePath());

        auto shared = std::make_shared<ScriptedChatEngine::Shared>();
        ModelController controller(
            std::make_unique<ScriptedChatEngine>(std::vector<ocelle::app::StreamDelta>{}, shared));
        QVERIFY(controller.openModelPath(model));
        QCOMPARE(controller.projectorPath(), QFileInfo(projector).absoluteFilePath());
        // The fixture projector has both towers.
        QCOMPARE(controller.inputs(),
                 (QStringList{QStringLiteral("text"), QStringLiteral("image"), QStringLiteral("audio")}));
    }

    void anEngineFailureIsShownAndTheAppCarriesOn() {
        QTemporaryDir dir;
        const QString model = dir.filePath(QStringLiteral("unloadable.gguf"));
        QVERIFY(QFile::link(fixture("models/tiny-gemma4-e.gguf"), model));
        auto shared = std::make_shared<ScriptedChatEngine::Shared>();
        ModelController controller(
            std::make_unique<ScriptedChatEngine>(std::vector<ocelle::app::StreamDelta>{}, shared));
        QSignalSpy finished(&controller, &ModelController::loadFinished);
        QVERIFY(controller.openModelPath(model));
        QVERIFY(finished.wait(5000));
        QCOMPARE(finished.at(0).at(0).toBool(), false);
        QCOMPARE(controller.state(), ModelController::State::Failed);
        QVERIFY2(controller.statusText().contains(QStringLiteral("scripted failure")),
                 qPrintable(controller.statusText()));
        // And a good file loads afterwards.
        QVERIFY(controller.openModelPath(fixture("models/tiny-gemma4-e.gguf")));
        QVERIFY(finished.wait(5000));
        QVERIFY(controller.modelLoaded());
    }

    void aLoadCanBeCancelled() {
        auto shared = std::make_shared<ScriptedChatEngine::Shared>();
        shared->loadMilliseconds = 400;
        ModelController controller(
            std::make_unique<ScriptedChatEngine>(std::vector<ocelle::app::StreamDelta>{}, shared));
        QSignalSpy finished(&controller, &ModelController::loadFinished);
        QVERIFY(controller.openModelPath(fixture("models/tiny-gemma4-e.gguf")));
        QVERIFY(controller.busy());
        controller.cancelLoad();
        QCOMPARE(controller.state(), ModelController::State::NoModel);
        QVERIFY(controller.statusText().contains(QStringLiteral("cancelled")));
        QCOMPARE(finished.count(), 1);
        // When the abandoned load completes on the engine thread, nothing changes here.
        QTest::qWait(700);
        QCOMPARE(controller.state(), ModelController::State::NoModel);
        QCOMPARE(finished.count(), 1);
    }

    // Progress from the engine thread reaches the controller: increasing, from 0 to 1 when loaded.
    void loadProgressReachesTheController() {
        auto shared = std::make_shared<ScriptedChatEngine::Shared>();
        shared->loadMilliseconds = 300;
        ModelController controller(
            std::make_unique<ScriptedChatEngine>(std::vector<ocelle::app::StreamDelta>{}, shared));
        QList<double> seen;
        connect(&controller, &ModelController::loadProgressChanged, this,
                [&] { seen << controller.loadProgress(); });
        QSignalSpy finished(&controller, &ModelController::loadFinished);
        QVERIFY(controller.openModelPath(fixture("models/tiny-gemma4-e.gguf")));
        QVERIFY(finished.wait(5000));
        QVERIFY(controller.modelLoaded());
        QCOMPARE(controller.loadProgress(), 1.0);
        int between = 0;
        for (int i = 0; i < seen.size(); ++i) {
            if (i > 0) QVERIFY(seen[i] >= seen[i - 1]);
            between += seen[i] > 0.05 && seen[i] < 0.95;
        }
        QVERIFY2(between >= 3, qPrintable(QString::number(between))); // steps, not a jump to 1
    }

    void theRealEngineReportsProgressToo() {
        ModelController controller(std::make_unique<ocelle::app::GemmaChatEngine>());
        controller.setDeviceChoice(QStringLiteral("cpu"));
        QList<double> seen;
        connect(&controller, &ModelController::loadProgressChanged, this,
                [&] { seen << controller.loadProgress(); });
        QSignalSpy finished(&controller, &ModelController::loadFinished);
        QVERIFY(controller.openModelPath(fixture("models/tiny-gemma4-e.gguf")));
        QVERIFY(finished.wait(30000));
        QVERIFY(controller.modelLoaded());
        QVERIFY2(seen.size() >= 3, qPrintable(QString::number(seen.size())));
        QVERIFY(std::any_of(seen.begin(), seen.end(), [](double f) { return f > 0.1 && f < 0.9; }));
        QCOMPARE(seen.last(), 1.0);
    }

    // Cancel stops the engine itself: a long load ends at once and the next load is not queued
    // behind it.
    void cancelStopsTheEngineLoading() {
        auto shared = std::make_shared<ScriptedChatEngine::Shared>();
        shared->loadMilliseconds = 20000;
        ModelController controller(
            std::make_unique<ScriptedChatEngine>(std::vector<ocelle::app::StreamDelta>{}, shared));
        QSignalSpy finished(&controller, &ModelController::loadFinished);
        QVERIFY(controller.openModelPath(fixture("models/tiny-gemma4-e.gguf")));
        QTRY_VERIFY(controller.loadProgress() > 0);
        controller.cancelLoad();
        QCOMPARE(controller.state(), ModelController::State::NoModel);
        shared->loadMilliseconds = 0;
        QElapsedTimer timer;
        timer.start();
        QVERIFY(controller.openModelPath(fixture("models/tiny-gemma4-moe.gguf")));
        QTRY_VERIFY_WITH_TIMEOUT(controller.modelLoaded(), 5000);
        QVERIFY2(timer.elapsed() < 5000, qPrintable(QString::number(timer.elapsed())));
        QCOMPARE(controller.fileName(), QStringLiteral("tiny-gemma4-moe.gguf"));
    }

    // The device and context settings reach the engine with the paired projector.
    void settingsGoWithTheLoadRequest() {
        QTemporaryDir dir;
        const QString model = dir.filePath(QStringLiteral("tiny-gemma4-e.gguf"));
        QVERIFY(QFile::link(fixture("models/tiny-gemma4-e.gguf"), model));
        const QString projector = dir.filePath(QStringLiteral("tiny-gemma4-e-mmproj.gguf"));
        QVERIFY(QFile::link(fixture("vision/tiny-gemma4-e-mmproj.gguf"), projector));
        auto shared = std::make_shared<ScriptedChatEngine::Shared>();
        ModelController controller(
            std::make_unique<ScriptedChatEngine>(std::vector<ocelle::app::StreamDelta>{}, shared));
        controller.setDeviceChoice(QStringLiteral("vulkan:0"));
        controller.setRequestedContextLength(1536);
        QCOMPARE(controller.library()->deviceChoice(), QStringLiteral("vulkan:0"));
        QCOMPARE(controller.library()->contextLength(), 1536);
        QSignalSpy finished(&controller, &ModelController::loadFinished);
        QVERIFY(controller.openModelPath(model));
        QVERIFY(finished.wait(5000));
        std::lock_guard lock(shared->mutex);
        QCOMPARE(shared->loadRequests.size(), size_t(1));
        const auto& request = shared->loadRequests.front();
        QCOMPARE(QString::fromStdString(request.modelPath), QFileInfo(model).absoluteFilePath());
        QCOMPARE(QString::fromStdString(request.projectorPath), QFileInfo(projector).absoluteFilePath());
        QCOMPARE(request.device, std::string("vulkan:0"));
        QCOMPARE(request.contextLength, 1536);
    }

    // On this machine the only Vulkan device (if any) is a CPU-type one, which "auto" never picks:
    // the CPU runs the model and the controller says why.
    void theRealEngineSaysWhyItUsesTheCpu() {
        ModelController controller(std::make_unique<ocelle::app::GemmaChatEngine>());
        controller.setRequestedContextLength(300);
        QSignalSpy finished(&controller, &ModelController::loadFinished);
        QVERIFY(controller.openModelPath(fixture("models/tiny-gemma4-e.gguf")));
        QVERIFY(finished.wait(30000));
        QVERIFY(controller.modelLoaded());
        QCOMPARE(controller.contextLength(), 300);
        if (controller.device() == QStringLiteral("CPU")) {
            QVERIFY(controller.cpuFallback());
            QVERIFY2(controller.deviceReason().contains(QStringLiteral("CPU")),
                     qPrintable(controller.deviceReason()));
        }
        controller.setDeviceChoice(QStringLiteral("cpu"));
        QVERIFY(controller.openModelPath(fixture("models/tiny-gemma4-e.gguf")));
        QVERIFY(finished.wait(30000));
        QCOMPARE(controller.device(), QStringLiteral("CPU"));
        QVERIFY(!controller.cpuFallback());
        QCOMPARE(controller.deviceReason(), QStringLiteral("The CPU backend was requested."));

        controller.setDeviceChoice(QStringLiteral("gpu please"));
        QVERIFY(controller.openModelPath(fixture("models/tiny-gemma4-e.gguf")));
        QVERIFY(finished.wait(30000));
        QCOMPARE(controller.state(), ModelController::State::Failed);
        QVERIFY2(controller.statusText().contains(QStringLiteral("gpu please")),
                 qPrintable(controller.statusText()));
    }

    void acceptsAPlainPathFromQml() {
        ModelController controller(std::make_unique<ocelle::app::GemmaChatEngine>());
        QVERIFY(controller.openModelFile(QUrl(fixture("models/tiny-gemma4-moe.gguf"))));
        QCOMPARE(controller.fileName(), QStringLiteral("tiny-gemma4-moe.gguf"));
    }

    void refusesAFileThatIsNotGguf() {
        const QString path = fixture("README.md");
        ModelController controller(std::make_unique<ocelle::app::GemmaChatEngine>());
        QVERIFY(!controller.openModelPath(path));
        QCOMPARE(controller.state(), ModelController::State::Failed);
        QVERIFY2(controller.statusText().contains(QStringLiteral("not a GGUF file")),
                 qPrintable(controller.statusText()));
        QVERIFY2(controller.statusText().contains(QFileInfo(path).absoluteFilePath()),
                 qPrintable(controller.statusText()));
        QCOMPARE(controller.tensorCount(), 0);
    }

    void refusesAMissingFile() {
        ModelController controller(std::make_unique<ocelle::app::GemmaChatEngine>());
        QVERIFY(!controller.openModelPath(kFixtures + QStringLiteral("/models/no-such-model.gguf")));
        QCOMPARE(controller.state(), ModelController::State::Failed);
        QVERIFY2(controller.statusText().contains(QStringLiteral("no-such-model.gguf")),
                 qPrintable(controller.statusText()));
        QVERIFY(!controller.openModelPath(QString()));
        QVERIFY(!controller.openModelFile(QUrl(QStringLiteral("https://example.invalid/model.gguf"))));
        QVERIFY(controller.statusText().contains(QStringLiteral("https")));
    }

    void refusesATruncatedModel() {
        QFile original(fixture("models/tiny-gemma4-e.gguf"));
        QVERIFY(original.open(QIODevice::ReadOnly));
        QTemporaryDir dir;
        const QString path = dir.filePath(QStringLiteral("cut.gguf"));
        QVERIFY(writeFile(path, original.read(4096)));
        ModelController controller(std::make_unique<ocelle::app::GemmaChatEngine>());
        QVERIFY(!controller.openModelPath(path));
        QVERIFY2(controller.statusText().contains(QStringLiteral("cut.gguf")),
                 qPrintable(controller.statusText()));
        QCOMPARE(controller.state(), ModelController::State::Failed);
    }

    void explainsAProjectorFile() {
        ModelController controller(std::make_unique<ocelle::app::GemmaChatEngine>());
        QVERIFY(!controller.openModelPath(fixture("vision/tiny-gemma4-e-mmproj.gguf")));
        QCOMPARE(controller.state(), ModelController::State::Failed);
        QVERIFY2(controller.statusText().contains(QStringLiteral("mmproj")),
                 qPrintable(controller.statusText()));
    }

    void explainsAVocabularyOnlyFile() {
        ModelController controller(std::make_unique<ocelle::app::GemmaChatEngine>());
        QVERIFY(!controller.openModelPath(fixture("tokenizer/ggml-vocab-gemma-4.gguf")));
        QVERIFY2(controller.statusText().contains(QStringLiteral("no weights")),
                 qPrintable(controller.statusText()));
    }

    void namesAnOtherArchitecture() {
        QTemporaryDir dir;
        const QString path = dir.filePath(QStringLiteral("llama.gguf"));
        QVERIFY(writeFile(path, minimalGguf({{"general.architecture", "llama"}})));
        ModelController controller(std::make_unique<ocelle::app::GemmaChatEngine>());
        QVERIFY(!controller.openModelPath(path));
        QVERIFY2(controller.statusText().contains(QStringLiteral("\"llama\"")),
                 qPrintable(controller.statusText()));

        const QString nameless = dir.filePath(QStringLiteral("nameless.gguf"));
        QVERIFY(writeFile(nameless, minimalGguf({{"general.name", "x"}})));
        QVERIFY(!controller.openModelPath(nameless));
        QVERIFY2(controller.statusText().contains(QStringLiteral("general.architecture")),
                 qPrintable(controller.statusText()));
    }

    void recoversAfterAFailure() {
        ModelController controller(std::make_unique<ocelle::app::GemmaChatEngine>());
        QVERIFY(!controller.openModelPath(fixture("README.md")));
        QVERIFY(controller.openModelPath(fixture("models/tiny-gemma4-e.gguf")));
        QCOMPARE(controller.state(), ModelController::State::Loading);
        QVERIFY(!controller.openModelPath(fixture("README.md")));
        QCOMPARE(controller.architecture(), QString()); // nothing of the previous model lingers
        QCOMPARE(controller.tensorCount(), 0);
    }
};

QTEST_GUILESS_MAIN(TestModelController)
#include "test_model_controller.moc"
