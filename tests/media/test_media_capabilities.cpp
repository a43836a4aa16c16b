// media::capabilities() must report what the linked libraries really are and can do.
#include "media/capabilities.h"

#include <opencv2/core/version.hpp>

extern "C" {
#include <libavformat/version.h>
}

#include <QtTest>
#include <algorithm>

class TestMediaCapabilities : public QObject {
    Q_OBJECT

private slots:
    void versionsMatchTheHeadersBuiltAgainst() {
        const auto caps = ocelle::media::capabilities();
        // Headers and runtime libraries come from the same packages; a mismatch means a broken install.
        QCOMPARE(QString::fromStdString(caps.opencvVersion), QStringLiteral(CV_VERSION));
        const QString headerAvformat = QStringLiteral("%1.%2.%3")
                                           .arg(LIBAVFORMAT_VERSION_MAJOR)
                                           .arg(LIBAVFORMAT_VERSION_MINOR)
                                           .arg(LIBAVFORMAT_VERSION_MICRO);
        QCOMPARE(QString::fromStdString(caps.libavformatVersion), headerAvformat);
        QVERIFY(!caps.libavcodecVersion.empty());
    }

    void reportsTheCodecsOcelleNeeds() {
        const auto caps = ocelle::media::capabilities();
        // PNG and JPEG are what attachments most often are; every Debian OpenCV build has them.
        const auto has = [&](const char* ext) {
            return std::find(caps.imageFormats.begin(), caps.imageFormats.end(), ext) != caps.imageFormats.end();
        };
        QVERIFY(has("png"));
        QVERIFY(has("jpg"));
        QVERIFY(caps.demuxerCount > 10);
        QVERIFY(caps.canDemux("wav"));
        QVERIFY(caps.canDemux("mp4")); // an alias inside "mov,mp4,m4a,3gp,3g2,mj2"
        QVERIFY(caps.canDemux("matroska"));
        QVERIFY(!caps.canDemux("mp"));  // a prefix of an alias is not a match
        QVERIFY(!caps.canDemux("no-such-container"));
    }

    void summaryNamesBothBackends() {
        const auto caps = ocelle::media::capabilities();
        const QString summary = QString::fromStdString(caps.summary());
        QVERIFY2(summary.contains(QStringLiteral("OpenCV ") + QString::fromStdString(caps.opencvVersion)),
                 qPrintable(summary));
        QVERIFY2(summary.contains(QStringLiteral("libavformat ") + QString::fromStdString(caps.libavformatVersion)),
                 qPrintable(summary));
        QVERIFY2(summary.contains(QString::number(caps.demuxerCount) + QStringLiteral(" demuxers")), qPrintable(summary));
    }
};

QTEST_APPLESS_MAIN(TestMediaCapabilities)
#include "test_media_capabilities.moc"
