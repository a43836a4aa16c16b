// Shared by the media tests: run the command-line tools (ImageMagick, ffmpeg, sox, espeak-ng that
// scripts/setup installs) that make the test inputs, and read fixture files.
#pragma once

#include <QByteArray>
#include <QFile>
#include <QProcess>
#include <QString>
#include <QStringList>

#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "media/media_error.h"

namespace ocelle::media::testing {

// Runs a tool to completion; throws with its stderr when it fails, so a missing tool or a bad
// command fails the test loudly instead of skipping it.
inline void runTool(const QString& program, const QStringList& arguments, int timeoutMs = 60000) {
    QProcess process;
    process.start(program, arguments);
    if (!process.waitForStarted(10000)) {
        throw std::runtime_error("cannot start " + program.toStdString() +
                                 " (is it installed? run scripts/setup)");
    }
    if (!process.waitForFinished(timeoutMs) || process.exitStatus() != QProcess::NormalExit ||
        process.exitCode() != 0) {
        throw std::runtime_error(program.toStdString() + " " + arguments.join(' ').toStdString() +
                                 " failed: " + process.readAllStandardError().toStdString());
    }
}

inline QByteArray readBytes(const QString& path) {
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly)) throw std::runtime_error("cannot read " + path.toStdString());
    return file.readAll();
}

inline void writeBytes(const QString& path, const QByteArray& bytes) {
    QFile file(path);
    if (!file.open(QIODevice::WriteOnly) || file.write(bytes) != bytes.size()) {
        throw std::runtime_error("cannot write " + path.toStdString());
    }
}

inline std::vector<float> readFloats(const QString& path) {
    const QByteArray bytes = readBytes(path);
    std::vector<float> values(static_cast<std::size_t>(bytes.size()) / sizeof(float));
    std::memcpy(values.data(), bytes.constData(), values.size() * sizeof(float));
    return values;
}

// The message of the MediaError that call() throws, or empty when it throws none.
template <typename Call> QString errorOf(Call call) {
    try {
        call();
    } catch (const MediaError& error) {
        return QString::fromStdString(error.what());
    }
    return {};
}

// Keeps the first `fraction` of a file (a truncated download).
inline void truncateFile(const QString& path, double fraction) {
    const QByteArray bytes = readBytes(path);
    writeBytes(path, bytes.left(static_cast<qsizetype>(bytes.size() * fraction)));
}

} // namespace ocelle::media::testing
