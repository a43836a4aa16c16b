// Running ocelle-cli from a test: its exit code and output, as bytes (JSON, exact tokens) or text.
#pragma once

#include <QByteArray>
#include <QProcess>
#include <QString>
#include <QStringList>

#include <type_traits>

namespace ocelle::test {

template <class Text> struct CliRun {
    int exitCode = -1; // -1 when it did not finish normally (err then says why)
    Text out, err;
};

template <class Text = QByteArray> CliRun<Text> runCli(const QStringList& arguments, int timeoutMs = 120000) {
    static_assert(std::is_same_v<Text, QByteArray> || std::is_same_v<Text, QString>);
    const auto text = [](const QByteArray& bytes) {
        if constexpr (std::is_same_v<Text, QString>)
            return QString::fromUtf8(bytes);
        else
            return bytes;
    };
    QProcess process;
    process.start(QStringLiteral(OCELLE_CLI_PATH), arguments);
    CliRun<Text> run;
    if (!process.waitForFinished(timeoutMs) || process.exitStatus() != QProcess::NormalExit) {
        run.err = text("ocelle-cli did not finish normally: " + process.errorString().toUtf8());
        return run;
    }
    run.exitCode = process.exitCode();
    run.out = text(process.readAllStandardOutput());
    run.err = text(process.readAllStandardError());
    return run;
}

} // namespace ocelle::test
