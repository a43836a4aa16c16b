// `ocelle-cli info`: what it reports for the fixture models, and how it refuses other files.
#include "cli/cli_run.h"
#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QRegularExpression>
#include <QtTest>

namespace {

const QString kModels = QStringLiteral(OCELLE_FIXTURES_DIR "/models");

using Run = ocelle::test::CliRun<QString>;

Run cli(const QStringList& arguments) {
    return ocelle::test::runCli<QString>(arguments, 60000);
}

qulonglong bytesOn(const QString& out, const QString& label) {
    const QRegularExpression re("\\n\\s*" + QRegularExpression::escape(label) + ": (\\d+) bytes");
    const auto m = re.match(out);
    return m.hasMatch() ? m.captured(1).toULongLong() : 0;
}

} // namespace

class TestCliInfo : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() {
        if (!QFile::exists(QStringLiteral(OCELLE_CLI_PATH))) QSKIP("ocelle-cli is not built");
    }

    void fixtures_data() {
        QTest::addColumn<QString>("name");
        for (const QString& file : QDir(kModels).entryList({"*.ref.json"}, QDir::Files, QDir::Name))
            QTest::newRow(qPrintable(file)) << file.chopped(int(QStringLiteral(".ref.json").size()));
    }

    void fixtures() {
        QFETCH(QString, name);
        QFile refFile(kModels + "/" + name + ".ref.json");
        QVERIFY(refFile.open(QIODevice::ReadOnly));
        const auto ref = QJsonDocument::fromJson(refFile.readAll()).object();
        const Run small = cli({"info", kModels + "/" + name + ".gguf", "--ctx", "64"});
        QVERIFY2(small.exitCode == 0, qPrintable(small.err));
        const QString& out = small.out;
        QVERIFY(out.contains("architecture: gemma4"));
        QVERIFY(out.contains("variant: other"));
        const auto keys = ref["generator"].toObject()["keys_written"].toObject();
        QVERIFY(out.contains(QString("embedding_length: %1\n").arg(keys["gemma4.embedding_length"].toInt())));
        QVERIFY(out.contains(QString("block_count: %1\n").arg(keys["gemma4.block_count"].toInt())));
        QVERIFY(out.contains(
            QString("sliding_window: %1\n").arg(keys["gemma4.attention.sliding_window"].toInt())));
        QVERIFY(out.contains(QString("expert_count: %1\n").arg(keys["gemma4.expert_count"].toInt())));
        QVERIFY(out.contains(QString("n_vocab: %1\n").arg(ref["n_vocab"].toInt())));
        // Tensor counts by type add up to the file's tensor list.
        QHash<QString, int> byType;
        for (const auto& t : ref["tensors"].toArray()) byType[t.toObject()["type"].toString()] += 1;
        QVERIFY(out.contains(QString("tensors: %1\n").arg(ref["tensors"].toArray().size())));
        for (auto it = byType.begin(); it != byType.end(); ++it)
            QVERIFY2(QRegularExpression(QString("\\n  %1\\s+%2 tensors").arg(it.key()).arg(it.value()))
                         .match(out)
                         .hasMatch(),
                     qPrintable(it.key()));
        // The memory estimate: parts add up, the KV cache grows with the context.
        const qulonglong weights = bytesOn(out, "weights"), kv = bytesOn(out, "kv cache"),
                         activations = bytesOn(out, "activations"), total = bytesOn(out, "total");
        QVERIFY(weights > 0 && kv > 0 && activations > 0);
        QCOMPARE(total, weights + kv + activations);
        const Run large = cli({"info", kModels + "/" + name + ".gguf", "--ctx", "4096"});
        QVERIFY(bytesOn(large.out, "kv cache") > kv);
        const Run half = cli({"info", kModels + "/" + name + ".gguf", "--ctx", "4096", "--kv", "f16"});
        QCOMPARE(bytesOn(half.out, "kv cache") * 2, bytesOn(large.out, "kv cache"));
    }

    void refusals() {
        Run r = cli({"info", QStringLiteral(OCELLE_FIXTURES_DIR "/vision/tiny-gemma4-e-mmproj.gguf")});
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.err.contains("'clip'"), qPrintable(r.err));
        r = cli({"info", kModels + "/missing.gguf"});
        QCOMPARE(r.exitCode, 1);
        r = cli({"info"});
        QCOMPARE(r.exitCode, 2);
    }
};

QTEST_APPLESS_MAIN(TestCliInfo)
#include "test_cli_info.moc"
