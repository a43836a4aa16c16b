// A real microphone for tests: a private PulseAudio daemon (own XDG_RUNTIME_DIR, no desktop
// session needed, works as root) whose only source is a pipe ("fakemic", 44.1 kHz stereo, so a
// capture really resamples and mixes down). Tests write PCM into the pipe with feed(). Shared by
// the media capture test and the app's recording test. Call start() from initTestCase (before any
// Qt Multimedia object exists: the environment it sets decides which server Qt talks to).
#pragma once

#include <QFile>
#include <QProcess>
#include <QStandardPaths>
#include <QString>
#include <QStringList>
#include <QTemporaryDir>
#include <QTest>

#include <cmath>
#include <csignal>
#include <cstdint>
#include <fcntl.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace ocelle::testing {

class PulsePipeMicrophone {
public:
    static constexpr int kRate = 44100;
    static constexpr int kChannels = 2;
    static constexpr const char* kSourceName = "fakemic";

    ~PulsePipeMicrophone() { stop(); }

    // Interleaved stereo, the same tone in both channels.
    static std::vector<int16_t> sine(double frequency, double seconds, double amplitude) {
        std::vector<int16_t> pcm(size_t(seconds * kRate) * kChannels);
        for (size_t i = 0; i < pcm.size(); ++i)
            pcm[i] = int16_t(std::lround(32767 * amplitude *
                                         std::sin(2 * M_PI * frequency * double(i / kChannels) / kRate)));
        return pcm;
    }

    // Starts the daemon and loads the pipe source as the default source. Empty on success,
    // otherwise what went wrong.
    QString start() {
        for (const char* tool : {"pulseaudio", "pactl"})
            if (QStandardPaths::findExecutable(tool).isEmpty())
                return QString("%1 is not installed (scripts/setup installs it)").arg(tool);
        if (!runtime_.isValid()) return "no temporary directory";
        qputenv("XDG_RUNTIME_DIR", runtime_.path().toUtf8());
        qunsetenv("PULSE_SERVER");
        qunsetenv("PULSE_RUNTIME_PATH");
        fifo_ = runtime_.filePath("fakemic.fifo");
        QProcess start;
        start.start("pulseaudio", {"-n", "--daemonize=yes", "--exit-idle-time=-1", "--disallow-exit",
                                   "--use-pid-file=yes", "--load=module-native-protocol-unix"});
        if (!start.waitForFinished(20000) || start.exitCode() != 0)
            return "pulseaudio did not start: " + QString::fromUtf8(start.readAllStandardError());
        QFile pidFile(runtime_.filePath("pulse/pid"));
        for (int i = 0; i < 100 && !pidFile.exists(); ++i) QTest::qWait(100);
        if (!pidFile.open(QIODevice::ReadOnly)) return "pulseaudio wrote no pid file";
        daemon_ = pid_t(pidFile.readAll().trimmed().toInt());
        if (daemon_ <= 0) return "pulseaudio's pid file is empty";
        for (int i = 0; i < 100 && pactl({"info"}).isEmpty(); ++i) QTest::qWait(100);
        if (!loadPipeSource()) return "module-pipe-source did not load";
        return {};
    }

    void stop() {
        if (writer_.joinable()) writer_.join();
        if (daemon_ > 0) {
            ::kill(daemon_, SIGTERM);
            for (int i = 0; i < 50 && ::kill(daemon_, 0) == 0; ++i) QTest::qWait(100);
            daemon_ = 0;
        }
    }

    QByteArray pactl(const QStringList& args) {
        QProcess p;
        p.start(QStringLiteral("pactl"), args);
        p.waitForFinished(10000);
        if (p.exitCode() != 0)
            qWarning("pactl %s: %s", qPrintable(args.join(' ')), p.readAllStandardError().constData());
        return p.exitCode() == 0 ? p.readAllStandardOutput() : QByteArray();
    }

    // Loaded through pactl (not --load) for its module index, so a test can unload it (the
    // microphone disappears). The module makes the FIFO itself (and refuses an existing one).
    bool loadPipeSource() {
        const QByteArray index = pactl(
            {"load-module", "module-pipe-source", QString("source_name=") + kSourceName, "file=" + fifo_,
             "format=s16le", "rate=" + QString::number(kRate), "channels=" + QString::number(kChannels)});
        pipeModule_ = index.trimmed().isEmpty() ? -1 : index.trimmed().toInt();
        pactl({"set-default-source", kSourceName});
        return pipeModule_ >= 0;
    }
    void unloadPipeSource() {
        waitForWriter();
        if (pipeModule_ >= 0) pactl({"unload-module", QString::number(pipeModule_)});
        pipeModule_ = -1;
    }

    // Writes PCM into the pipe from another thread (the pipe holds only 64 KiB).
    void feed(std::vector<int16_t> pcm) {
        waitForWriter();
        writer_ = std::thread([path = fifo_.toStdString(), pcm = std::move(pcm)] {
            const int fd = ::open(path.c_str(), O_WRONLY);
            if (fd < 0) return;
            const char* p = reinterpret_cast<const char*>(pcm.data());
            size_t left = pcm.size() * sizeof(int16_t);
            while (left > 0) {
                const ssize_t n = ::write(fd, p, left);
                if (n <= 0) break;
                p += n;
                left -= size_t(n);
            }
            ::close(fd);
        });
    }
    void waitForWriter() {
        if (writer_.joinable()) writer_.join();
    }

private:
    QTemporaryDir runtime_;
    QString fifo_;
    pid_t daemon_ = 0;
    int pipeModule_ = -1;
    std::thread writer_;
};

} // namespace ocelle::testing
