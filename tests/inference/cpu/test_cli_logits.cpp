// `ocelle-cli logits`: the JSON shape other tools parse, and its numbers against the fixtures'
// float64 reference.
#include "cli/cli_run.h"
#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QtTest>

namespace {

const QString kModels = QStringLiteral(OCELLE_FIXTURES_DIR "/models");

QJsonObject readJson(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) qFatal("cannot read %s", qPrintable(path));
    return QJsonDocument::fromJson(f.readAll()).object();
}

using Run = ocelle::test::CliRun<QByteArray>;

Run cli(const QStringList& arguments) {
    return ocelle::test::runCli<QByteArray>(arguments, 120000);
}

} // namespace

class TestCliLogits : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() {
        if (!QFile::exists(QStringLiteral(OCELLE_CLI_PATH))) QSKIP("ocelle-cli is not built");
    }

    void matchesFloat64Reference_data() {
        QTest::addColumn<QString>("name");
        for (const QString& file : QDir(kModels).entryList({"*.ref.json"}, QDir::Files, QDir::Name))
            QTest::newRow(qPrintable(file)) << file.chopped(int(QStringLiteral(".ref.json").size()));
    }

    void matchesFloat64Reference() {
        QFETCH(QString, name);
        const auto ref = readJson(kModels + "/" + name + ".ref.json");
        const auto prompt = ref["prompts"].toArray()[0].toObject();
        QStringList ids;
        for (const auto& id : prompt["ids"].toArray()) ids << QString::number(id.toInt());
        const Run r = cli({"logits", "--model", kModels + "/" + name + ".gguf", "--ids", ids.join(' '),
                           "--backend", "cpu", "--top", "12", "--threads", "2"});
        QVERIFY2(r.exitCode == 0, r.err.constData());
        QJsonParseError parseError;
        const auto doc = QJsonDocument::fromJson(r.out, &parseError);
        QVERIFY2(parseError.error == QJsonParseError::NoError, qPrintable(parseError.errorString()));
        QVERIFY(r.out.trimmed().count('\n') == 0); // one JSON object on one line
        const auto root = doc.object();
        QCOMPARE(root["n_vocab"].toInt(), ref["n_vocab"].toInt());
        const auto positions = root["positions"].toArray();
        const auto expected = prompt["float64_reference"].toObject()["positions"].toArray();
        QCOMPARE(positions.size(), ids.size());
        for (int i = 0; i < positions.size(); ++i) {
            const auto pos = positions[i].toObject();
            QCOMPARE(pos["pos"].toInt(), i);
            const auto top = pos["top"].toArray();
            QCOMPARE(top.size(), 12);
            QHash<int, double> ours;
            double previous = INFINITY;
            for (const auto& pair : top) {
                const double logit = pair.toArray()[1].toDouble();
                QVERIFY(logit <= previous); // largest first
                previous = logit;
                ours[pair.toArray()[0].toInt()] = logit;
            }
            const auto refTop = expected[i].toObject()["top10"].toArray();
            QCOMPARE(top[0].toArray()[0].toInt(), expected[i].toObject()["argmax"].toInt());
            for (const auto& pair : refTop) {
                const int id = pair.toArray()[0].toInt();
                QVERIFY2(ours.contains(id),
                         qPrintable(QString("pos %1: id %2 not in our top 12").arg(i).arg(id)));
                QVERIFY(std::abs(ours[id] - pair.toArray()[1].toDouble()) <= 2e-3);
            }
        }
    }

    void errors() {
        Run r = cli({"logits", "--model", kModels + "/no-such-model.gguf", "--ids", "2"});
        QCOMPARE(r.exitCode, 1);
        QVERIFY(r.err.contains("no-such-model.gguf"));
        const QString model = QDir(kModels).entryList({"*.gguf"}, QDir::Files, QDir::Name).value(0);
        r = cli({"logits", "--model", kModels + "/" + model, "--ids", "2 999999999"});
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.err.contains("outside the vocabulary"), r.err.constData());
        r = cli({"logits", "--model", kModels + "/" + model, "--ids", "2 x"});
        QCOMPARE(r.exitCode, 2);
        r = cli({"logits", "--model", kModels + "/" + model, "--ids", "2", "--backend", "tpu"});
        QCOMPARE(r.exitCode, 2);
    }
};

QTEST_APPLESS_MAIN(TestCliLogits)
#include "test_cli_logits.moc"
