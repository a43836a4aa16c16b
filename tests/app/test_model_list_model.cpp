// The model list on a real folder: the fixture models, a model written by the test-model writer,
// a truncated file, another architecture and an mmproj. Checked by QAbstractItemModelTester through
// scans, folder changes, estimate changes and opened files.
#include "model_file.h"
#include "model_list_model.h"

#include "test_model.h"

#include <QAbstractItemModelTester>
#include <QFile>
#include <QSettings>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QtEndian>
#include <QtTest>
#include <unistd.h>

namespace {

const QString kFixtures = QStringLiteral(OCELLE_FIXTURES_DIR);
QString fixture(const char* relative) {
    return kFixtures + QLatin1Char('/') + QLatin1String(relative);
}

bool writeFile(const QString& path, const QByteArray& bytes) {
    QFile file(path);
    return file.open(QIODevice::WriteOnly) && file.write(bytes) == bytes.size();
}

QByteArray readFile(const QString& path, qint64 max = -1) {
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly)) return {};
    return max < 0 ? file.readAll() : file.read(max);
}

// A GGUF v3 header with one string key and no tensors.
QByteArray ggufWithArchitecture(const QByteArray& architecture) {
    QByteArray out("GGUF");
    char word[8];
    auto u32 = [&](quint32 v) {
        qToLittleEndian(v, word);
        out.append(word, 4);
    };
    auto u64 = [&](quint64 v) {
        qToLittleEndian(v, word);
        out.append(word, 8);
    };
    auto str = [&](const QByteArray& s) {
        u64(quint64(s.size()));
        out.append(s);
    };
    u32(3);
    u64(0);
    u64(1);
    str("general.architecture");
    u32(8);
    str(architecture);
    return out;
}

int rowNamed(const ModelListModel& model, const QString& fileName) {
    for (int i = 0; i < model.rowCount(); ++i)
        if (model.data(model.index(i), ModelListModel::FileNameRole).toString() == fileName) return i;
    return -1;
}

QVariant roleOf(const ModelListModel& model, const QString& fileName, int role) {
    const int row = rowNamed(model, fileName);
    return row < 0 ? QVariant() : model.data(model.index(row), role);
}

QStringList fileNames(const ModelListModel& model) {
    QStringList names;
    for (int i = 0; i < model.rowCount(); ++i)
        names << model.data(model.index(i), ModelListModel::FileNameRole).toString();
    return names;
}

} // namespace

class TestModelListModel : public QObject {
    Q_OBJECT

    QTemporaryDir folder_;

    // Waits for the scan that follows a change (the list starts a new one for every change).
    static bool waitForScan(ModelListModel& model, QSignalSpy& finished, int timeoutMs = 20000) {
        finished.clear();
        if (!finished.wait(timeoutMs)) return false;
        while (model.scanning()) {
            if (!finished.wait(timeoutMs)) return false;
        }
        return true;
    }

private slots:
    void initTestCase() {
        QStandardPaths::setTestModeEnabled(true);
        QCoreApplication::setOrganizationName(QStringLiteral("OcelleTests"));
        QCoreApplication::setApplicationName(QStringLiteral("test_model_list_model"));
        QSettings().clear();
        QVERIFY(folder_.isValid());
        const QDir dir(folder_.path());
        QVERIFY(QFile::copy(fixture("models/tiny-gemma4-e.gguf"), dir.filePath("tiny-gemma4-e.gguf")));
        QVERIFY(QFile::link(fixture("models/tiny-gemma4-moe.gguf"), dir.filePath("tiny-gemma4-moe.gguf")));
        QVERIFY(QFile::link(fixture("vision/tiny-gemma4-e-mmproj.gguf"),
                            dir.filePath("tiny-gemma4-e-mmproj.gguf")));
        QVERIFY(writeFile(dir.filePath("cut.gguf"), readFile(fixture("models/tiny-gemma4-e.gguf"), 4096)));
        QVERIFY(writeFile(dir.filePath("llama.gguf"), ggufWithArchitecture("llama")));
        QVERIFY(writeFile(dir.filePath("notes.txt"), "not a model"));
        // A 31B-shaped model from the test-model writer (small vocabulary: quick to write).
        ocelle::testmodel::Spec spec = ocelle::testmodel::defaultSpec(ocelle::testmodel::Style::Dense31);
        spec.weights = ocelle::testmodel::Weights::Q8_0;
        spec.vocab = 512;
        ocelle::testmodel::writeTestModel(spec, fixture("tokenizer/ggml-vocab-gemma-4.gguf").toStdString(),
                                          dir.filePath("written-dense31.gguf").toStdString());
    }

    void listsTheFolderWithWhatEachFileIs() {
        ModelListModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        QSignalSpy finished(&model, &ModelListModel::scanFinished);
        model.setFolder(folder_.path());
        QVERIFY(waitForScan(model, finished));

        // GGUF files only, the mmproj paired rather than listed, sorted by name.
        QCOMPARE(fileNames(model), (QStringList{"cut.gguf", "llama.gguf", "tiny-gemma4-e.gguf",
                                                "tiny-gemma4-moe.gguf", "written-dense31.gguf"}));

        const QString e = QStringLiteral("tiny-gemma4-e.gguf");
        QVERIFY(roleOf(model, e, ModelListModel::UsableRole).toBool());
        QCOMPARE(roleOf(model, e, ModelListModel::PathRole).toString(), QDir(folder_.path()).filePath(e));
        QCOMPARE(roleOf(model, e, ModelListModel::VariantRole).toString(), QStringLiteral("other"));
        QVERIFY(!roleOf(model, e, ModelListModel::QuantizationRole).toString().isEmpty());
        QCOMPARE(roleOf(model, e, ModelListModel::FileSizeRole).toLongLong(),
                 QFileInfo(fixture("models/tiny-gemma4-e.gguf")).size());
        QCOMPARE(roleOf(model, e, ModelListModel::ProjectorPathRole).toString(),
                 QDir(folder_.path()).filePath("tiny-gemma4-e-mmproj.gguf"));
        QCOMPARE(roleOf(model, e, ModelListModel::InputsRole).toStringList(),
                 (QStringList{"text", "image", "audio"}));
        QVERIFY(!roleOf(model, e, ModelListModel::OpenedRole).toBool());

        const QString written = QStringLiteral("written-dense31.gguf");
        QVERIFY(roleOf(model, written, ModelListModel::UsableRole).toBool());
        QCOMPARE(roleOf(model, written, ModelListModel::QuantizationRole).toString(), QStringLiteral("Q8_0"));
        QCOMPARE(roleOf(model, written, ModelListModel::InputsRole).toStringList(), QStringList{"text"});

        // Files that cannot be used say why.
        QVERIFY(!roleOf(model, "cut.gguf", ModelListModel::UsableRole).toBool());
        QVERIFY2(roleOf(model, "cut.gguf", ModelListModel::ProblemRole).toString().contains("cut.gguf"),
                 qPrintable(roleOf(model, "cut.gguf", ModelListModel::ProblemRole).toString()));
        QVERIFY(!roleOf(model, "llama.gguf", ModelListModel::UsableRole).toBool());
        QVERIFY(roleOf(model, "llama.gguf", ModelListModel::ProblemRole).toString().contains("\"llama\""));
        QCOMPARE(roleOf(model, "llama.gguf", ModelListModel::MemoryBytesRole).toLongLong(), -1);
        QVERIFY(roleOf(model, "llama.gguf", ModelListModel::MemoryTextRole).toString().isEmpty());
    }

    void theProjectorPairsOnlyWithAModelOfItsWidth() {
        const QDir dir(folder_.path());
        const auto e = ocelle::app::inspectModelFile(dir.filePath("tiny-gemma4-e.gguf"));
        const auto written = ocelle::app::inspectModelFile(dir.filePath("written-dense31.gguf"));
        QVERIFY(e.usable && written.usable);
        // The only projector in the folder, but its soft tokens are as wide as the E model's
        // embeddings only (the written model is 32 wide).
        QCOMPARE(e.projectorPath, dir.filePath("tiny-gemma4-e-mmproj.gguf"));
        QCOMPARE(written.projectorPath, QString());
        QCOMPARE(ocelle::app::findProjectorFor(dir.filePath("written-dense31.gguf")),
                 dir.filePath("tiny-gemma4-e-mmproj.gguf")); // without the width check it would pair
    }

    void estimatesMemoryAgainstTheDevice() {
        ModelListModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        QSignalSpy finished(&model, &ModelListModel::scanFinished);
        model.setFolder(folder_.path());
        QVERIFY(waitForScan(model, finished));
        const QString e = QStringLiteral("tiny-gemma4-e.gguf");

        model.setContextLength(256);
        const qint64 small = roleOf(model, e, ModelListModel::MemoryBytesRole).toLongLong();
        model.setContextLength(1024);
        const qint64 large = roleOf(model, e, ModelListModel::MemoryBytesRole).toLongLong();
        // More context, more KV cache; the weights alone are most of this file.
        QVERIFY2(large > small, qPrintable(QStringLiteral("%1 vs %2").arg(large).arg(small)));
        QVERIFY(small > QFileInfo(fixture("models/tiny-gemma4-e.gguf")).size() / 2);

        QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);
        model.setDeviceForTesting(QStringLiteral("Test GPU"), large); // exactly enough
        QVERIFY(changed.count() >= 1);
        QVERIFY(roleOf(model, e, ModelListModel::FitsRole).toBool());
        QVERIFY2(roleOf(model, e, ModelListModel::MemoryTextRole).toString().contains("Test GPU"),
                 qPrintable(roleOf(model, e, ModelListModel::MemoryTextRole).toString()));
        model.setDeviceForTesting(QStringLiteral("Test GPU"), large - 1); // one byte short
        QVERIFY(!roleOf(model, e, ModelListModel::FitsRole).toBool());
        const QString warning = roleOf(model, e, ModelListModel::MemoryTextRole).toString();
        QVERIFY2(warning.startsWith(QStringLiteral("Won't fit")) && warning.contains("Test GPU"),
                 qPrintable(warning));
        QVERIFY(model.deviceSummary().contains(QStringLiteral("Test GPU")));
        QVERIFY(model.deviceSummary().contains(QStringLiteral("1024")));
        // A shorter context fits again.
        model.setContextLength(256);
        QVERIFY(roleOf(model, e, ModelListModel::FitsRole).toBool());
        model.setDeviceForTesting(QStringLiteral("CPU"), large);
        QVERIFY(roleOf(model, e, ModelListModel::MemoryTextRole).toString().contains(QStringLiteral("RAM")));
    }

    void theRealDeviceIsTheComputersMemoryForTheCpu() {
        ModelListModel model;
        QSignalSpy estimates(&model, &ModelListModel::estimatesChanged);
        model.setDeviceChoice(QStringLiteral("cpu"));
        QTRY_COMPARE_WITH_TIMEOUT(model.deviceName(), QStringLiteral("CPU"), 20000);
        QTRY_VERIFY(model.deviceMemoryBytes() > 0);
        QCOMPARE(quint64(model.deviceMemoryBytes()),
                 quint64(sysconf(_SC_PHYS_PAGES)) * quint64(sysconf(_SC_PAGESIZE)));
    }

    // The device setting's choices for the settings page: automatic, the CPU, each Vulkan device.
    void listsTheDeviceChoices() {
        ModelListModel model;
        QSignalSpy listed(&model, &ModelListModel::devicesChanged);
        QVERIFY(listed.wait(20000));
        const QVariantList devices = model.devices();
        QVERIFY(devices.size() >= 2);
        QCOMPARE(devices.at(0).toMap().value("choice").toString(), QStringLiteral("auto"));
        QVERIFY(devices.at(0).toMap().value("name").toString().startsWith(QStringLiteral("Automatic (")));
        const QVariantMap cpu = devices.at(1).toMap();
        QCOMPARE(cpu.value("choice").toString(), QStringLiteral("cpu"));
        QCOMPARE(quint64(cpu.value("memoryBytes").toLongLong()),
                 quint64(sysconf(_SC_PHYS_PAGES)) * quint64(sysconf(_SC_PAGESIZE)));
        for (int i = 2; i < devices.size(); ++i) {
            const QVariantMap vulkan = devices.at(i).toMap();
            QCOMPARE(vulkan.value("choice").toString(), QStringLiteral("vulkan:%1").arg(i - 2));
            QVERIFY(vulkan.value("name").toString().endsWith(QStringLiteral("(Vulkan)")));
            QVERIFY(vulkan.value("memoryBytes").toLongLong() > 0);
            // The list's estimates then compare against that device's memory.
            model.setDeviceChoice(vulkan.value("choice").toString());
            QTRY_COMPARE_WITH_TIMEOUT(model.deviceMemoryBytes(), vulkan.value("memoryBytes").toLongLong(),
                                      20000);
        }
    }

    void rescansWhenTheFolderChanges() {
        QTemporaryDir changing;
        QVERIFY(QFile::copy(fixture("models/tiny-gemma4-moe.gguf"), changing.filePath("a.gguf")));
        ModelListModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        QSignalSpy finished(&model, &ModelListModel::scanFinished);
        model.setFolder(changing.path());
        QVERIFY(waitForScan(model, finished));
        QCOMPARE(fileNames(model), QStringList{"a.gguf"});

        // A new file (a download still in progress: truncated) appears, is listed as unusable...
        QVERIFY(writeFile(changing.filePath("b.gguf"), readFile(fixture("models/tiny-gemma4-e.gguf"), 8192)));
        QVERIFY(waitForScan(model, finished));
        QCOMPARE(fileNames(model), (QStringList{"a.gguf", "b.gguf"}));
        QVERIFY(!roleOf(model, "b.gguf", ModelListModel::UsableRole).toBool());
        // ...and becomes usable once the rest of it is written (the same file, grown in place).
        {
            QFile grown(changing.filePath("b.gguf"));
            QVERIFY(grown.open(QIODevice::Append));
            const QByteArray rest = readFile(fixture("models/tiny-gemma4-e.gguf")).mid(8192);
            QCOMPARE(grown.write(rest), rest.size());
        }
        QTRY_VERIFY_WITH_TIMEOUT(roleOf(model, "b.gguf", ModelListModel::UsableRole).toBool(), 20000);

        QVERIFY(QFile::remove(changing.filePath("a.gguf")));
        QVERIFY(waitForScan(model, finished));
        QCOMPARE(fileNames(model), QStringList{"b.gguf"});
    }

    void openedFilesJoinTheListAndAreRemembered() {
        QTemporaryDir empty;
        {
            ModelListModel model;
            QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
            QSignalSpy finished(&model, &ModelListModel::scanFinished);
            model.setFolder(empty.path());
            QVERIFY(waitForScan(model, finished));
            QCOMPARE(model.rowCount(), 0);
            model.addOpenedFile(fixture("models/tiny-gemma4-moe.gguf"));
            QVERIFY(waitForScan(model, finished));
            QCOMPARE(fileNames(model), QStringList{"tiny-gemma4-moe.gguf"});
            QVERIFY(roleOf(model, "tiny-gemma4-moe.gguf", ModelListModel::OpenedRole).toBool());
            model.setCurrentPath(fixture("models/tiny-gemma4-moe.gguf"));
            QVERIFY(roleOf(model, "tiny-gemma4-moe.gguf", ModelListModel::CurrentRole).toBool());
        }
        // The folder and the opened file are settings: a new list (the next start) has both.
        ModelListModel again;
        QSignalSpy finished(&again, &ModelListModel::scanFinished);
        QCOMPARE(again.folder(), QDir::cleanPath(empty.path()));
        QVERIFY(waitForScan(again, finished));
        QCOMPARE(fileNames(again), QStringList{"tiny-gemma4-moe.gguf"});
        QSettings().clear();
    }

    void theDefaultFolderIsInTheUsersDataDirectory() {
        QSettings().clear();
        ModelListModel model;
        QCOMPARE(model.folder(), ModelListModel::defaultFolder());
        QVERIFY(model.folder().startsWith(
            QStandardPaths::writableLocation(QStandardPaths::AppLocalDataLocation)));
        QVERIFY(QFileInfo(model.folder()).isDir()); // made, so it can be watched and filled
    }
};

QTEST_GUILESS_MAIN(TestModelListModel)
#include "test_model_list_model.moc"
