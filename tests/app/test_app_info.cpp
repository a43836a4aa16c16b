// AppInfo: the diagnostics line names this build's version and its media backends.
#include "app_info.h"

#include <QtTest>

class TestAppInfo : public QObject {
    Q_OBJECT

private slots:
    void diagnosticsNameVersionAndBackends() {
        AppInfo info;
        QCOMPARE(AppInfo::version(), QStringLiteral(OCELLE_EXPECTED_VERSION));
        QVERIFY2(info.diagnostics().startsWith(QStringLiteral("Ocelle " OCELLE_EXPECTED_VERSION)),
                 qPrintable(info.diagnostics()));
        QVERIFY2(info.mediaBackends().contains(QStringLiteral("OpenCV ")), qPrintable(info.mediaBackends()));
        QVERIFY2(info.mediaBackends().contains(QStringLiteral("libavformat ")),
                 qPrintable(info.mediaBackends()));
        QVERIFY(info.diagnostics().endsWith(info.mediaBackends()));
    }
};

QTEST_APPLESS_MAIN(TestAppInfo)
#include "test_app_info.moc"
