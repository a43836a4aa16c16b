// Theme: dark follows the system palette unless the user picks a scheme, and both schemes keep
// text readable (WCAG AA contrast, 4.5:1).
#include "theme.h"

#include <QGuiApplication>
#include <QSignalSpy>
#include <QtTest>
#include <cmath>

namespace {

QPalette paletteWithWindow(const QColor& window) {
    QPalette palette;
    palette.setColor(QPalette::Window, window);
    return palette;
}

double relativeLuminance(const QColor& color) {
    const auto channel = [](double c) {
        return c <= 0.03928 ? c / 12.92 : std::pow((c + 0.055) / 1.055, 2.4);
    };
    return 0.2126 * channel(color.redF()) + 0.7152 * channel(color.greenF()) +
           0.0722 * channel(color.blueF());
}

double contrast(const QColor& a, const QColor& b) {
    const double la = relativeLuminance(a);
    const double lb = relativeLuminance(b);
    return (std::max(la, lb) + 0.05) / (std::min(la, lb) + 0.05);
}

} // namespace

class TestTheme : public QObject {
    Q_OBJECT

private slots:
    void classifiesPalettes() {
        QVERIFY(Theme::isDarkPalette(paletteWithWindow(QColor(0x20, 0x20, 0x24))));
        QVERIFY(Theme::isDarkPalette(paletteWithWindow(QColor(0x3c, 0x2a, 0x50))));
        QVERIFY(!Theme::isDarkPalette(paletteWithWindow(QColor(0xef, 0xef, 0xef))));
        QVERIFY(!Theme::isDarkPalette(paletteWithWindow(QColor(0xff, 0xf8, 0xe0))));
    }

    void followsTheSystemPalette() {
        QGuiApplication::setPalette(paletteWithWindow(QColor(0xf0, 0xf0, 0xf0)));
        Theme theme;
        QVERIFY(!theme.dark());
        const QColor lightBackground = theme.background();

        QSignalSpy spy(&theme, &Theme::changed);
        QGuiApplication::setPalette(paletteWithWindow(QColor(0x1e, 0x1e, 0x1e)));
        QTRY_VERIFY(theme.dark());
        QVERIFY(spy.count() >= 1);
        QVERIFY(theme.background() != lightBackground);
        QVERIFY(theme.background().lightnessF() < 0.5);

        QGuiApplication::setPalette(paletteWithWindow(QColor(0xf0, 0xf0, 0xf0)));
        QTRY_VERIFY(!theme.dark());
    }

    void aChosenSchemeOverridesTheSystem() {
        QGuiApplication::setPalette(paletteWithWindow(QColor(0xf0, 0xf0, 0xf0)));
        Theme theme;
        theme.setMode(Theme::Mode::Dark);
        QVERIFY(theme.dark());
        QGuiApplication::setPalette(paletteWithWindow(QColor(0xfa, 0xfa, 0xfa)));
        QCoreApplication::processEvents();
        QVERIFY(theme.dark());
        theme.setMode(Theme::Mode::Light);
        QVERIFY(!theme.dark());
        theme.setMode(Theme::Mode::System);
        QCOMPARE(theme.mode(), Theme::Mode::System);
        QVERIFY(!theme.dark());
    }

    void bothSchemesAreReadable() {
        for (const Theme::Mode mode : {Theme::Mode::Light, Theme::Mode::Dark}) {
            Theme theme;
            theme.setMode(mode);
            const QString scheme = theme.dark() ? QStringLiteral("dark") : QStringLiteral("light");
            const auto check = [&](const char* what, const QColor& fg, const QColor& bg) {
                const double ratio = contrast(fg, bg);
                QVERIFY2(ratio >= 4.5,
                         qPrintable(QStringLiteral("%1 %2: contrast %3 < 4.5").arg(scheme, what).arg(ratio)));
            };
            check("text on background", theme.text(), theme.background());
            check("text on sidebar", theme.text(), theme.sidebar());
            check("text on surface", theme.text(), theme.surface());
            check("muted text on background", theme.mutedText(), theme.background());
            check("muted text on sidebar", theme.mutedText(), theme.sidebar());
            check("text on accent", theme.accentText(), theme.accent());
            check("error on background", theme.error(), theme.background());
            check("text on user bubble", theme.text(), theme.userBubble());
            check("text on selection", theme.text(), theme.selection());
        }
    }
};

QTEST_MAIN(TestTheme)
#include "test_theme.moc"
