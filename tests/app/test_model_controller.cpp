// ModelController: choosing a model file reads and validates its GGUF header and says what it found,
// or why the file cannot be used, in words a user can act on.
#include "model_controller.h"

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
        ModelController controller;
        QCOMPARE(controller.state(), ModelController::State::NoModel);
        QVERIFY(controller.modelPath().isEmpty());
        QVERIFY(!controller.modelLoaded());
        QVERIFY(!controller.statusText().isEmpty());
    }

    void readsTheHeaderOfAGemma4Model() {
        const QString path = fixture("models/tiny-gemma4-e.gguf");
        ModelController controller;
        QSignalSpy spy(&controller, &ModelController::changed);
        QVERIFY(controller.openModelFile(QUrl::fromLocalFile(path)));
        QCOMPARE(spy.count(), 1);
        QCOMPARE(controller.state(), ModelController::State::Inspected);
        QCOMPARE(controller.modelPath(), QFileInfo(path).absoluteFilePath());
        QCOMPARE(controller.fileName(), QStringLiteral("tiny-gemma4-e.gguf"));
        QCOMPARE(controller.architecture(), QStringLiteral("gemma4"));
        const quint64 tensors = rawTensorCount(path);
        QVERIFY(tensors > 0);
        QCOMPARE(static_cast<quint64>(controller.tensorCount()), tensors);
        QCOMPARE(controller.fileSize(), QFileInfo(path).size());
        // Read is not loaded: nothing may claim the model can answer yet.
        QVERIFY(!controller.modelLoaded());
        const QString status = controller.statusText();
        QVERIFY2(status.contains(QStringLiteral("tiny-gemma4-e.gguf")), qPrintable(status));
        QVERIFY2(status.contains(QString::number(tensors) + QStringLiteral(" tensors")), qPrintable(status));
        QVERIFY2(status.contains(QStringLiteral("engine")), qPrintable(status));
    }

    void acceptsAPlainPathFromQml() {
        ModelController controller;
        QVERIFY(controller.openModelFile(QUrl(fixture("models/tiny-gemma4-moe.gguf"))));
        QCOMPARE(controller.fileName(), QStringLiteral("tiny-gemma4-moe.gguf"));
    }

    void refusesAFileThatIsNotGguf() {
        const QString path = fixture("README.md");
        ModelController controller;
        QVERIFY(!controller.openModelPath(path));
        QCOMPARE(controller.state(), ModelController::State::Failed);
        QVERIFY2(controller.statusText().contains(QStringLiteral("not a GGUF file")),
                 qPrintable(controller.statusText()));
        QVERIFY2(controller.statusText().contains(QFileInfo(path).absoluteFilePath()),
                 qPrintable(controller.statusText()));
        QCOMPARE(controller.tensorCount(), 0);
    }

    void refusesAMissingFile() {
        ModelController controller;
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
        ModelController controller;
        QVERIFY(!controller.openModelPath(path));
        QVERIFY2(controller.statusText().contains(QStringLiteral("cut.gguf")),
                 qPrintable(controller.statusText()));
        QCOMPARE(controller.state(), ModelController::State::Failed);
    }

    void explainsAProjectorFile() {
        ModelController controller;
        QVERIFY(!controller.openModelPath(fixture("vision/tiny-gemma4-e-mmproj.gguf")));
        QCOMPARE(controller.state(), ModelController::State::Failed);
        QVERIFY2(controller.statusText().contains(QStringLiteral("mmproj")),
                 qPrintable(controller.statusText()));
    }

    void explainsAVocabularyOnlyFile() {
        ModelController controller;
        QVERIFY(!controller.openModelPath(fixture("tokenizer/ggml-vocab-gemma-4.gguf")));
        QVERIFY2(controller.statusText().contains(QStringLiteral("no weights")),
                 qPrintable(controller.statusText()));
    }

    void namesAnOtherArchitecture() {
        QTemporaryDir dir;
        const QString path = dir.filePath(QStringLiteral("llama.gguf"));
        QVERIFY(writeFile(path, minimalGguf({{"general.architecture", "llama"}})));
        ModelController controller;
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
        ModelController controller;
        QVERIFY(!controller.openModelPath(fixture("README.md")));
        QVERIFY(controller.openModelPath(fixture("models/tiny-gemma4-e.gguf")));
        QCOMPARE(controller.state(), ModelController::State::Inspected);
        QVERIFY(!controller.openModelPath(fixture("README.md")));
        QCOMPARE(controller.architecture(), QString()); // nothing of the previous model lingers
        QCOMPARE(controller.tensorCount(), 0);
    }
};

QTEST_APPLESS_MAIN(TestModelController)
#include "test_model_controller.moc"
