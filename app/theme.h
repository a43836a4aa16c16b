// The app's colors, light or dark. By default the scheme follows the system: Qt 6.4 has no
// QStyleHints::colorScheme (added in 6.5), so "dark" is derived from the lightness of the
// application palette's window color, which platform themes set from the desktop's setting.
#pragma once

#include <QColor>
#include <QObject>
#include <QPalette>
#include <QtQml/qqmlregistration.h>

class QQmlEngine;
class QJSEngine;

class Theme : public QObject {
    Q_OBJECT
    QML_ELEMENT
    QML_SINGLETON

    Q_PROPERTY(Mode mode READ mode WRITE setMode NOTIFY changed)
    Q_PROPERTY(bool dark READ dark NOTIFY changed)
    Q_PROPERTY(QColor background READ background NOTIFY changed)
    Q_PROPERTY(QColor sidebar READ sidebar NOTIFY changed)
    Q_PROPERTY(QColor surface READ surface NOTIFY changed)
    Q_PROPERTY(QColor text READ text NOTIFY changed)
    Q_PROPERTY(QColor mutedText READ mutedText NOTIFY changed)
    Q_PROPERTY(QColor border READ border NOTIFY changed)
    Q_PROPERTY(QColor accent READ accent NOTIFY changed)
    Q_PROPERTY(QColor accentText READ accentText NOTIFY changed)
    Q_PROPERTY(QColor error READ error NOTIFY changed)
    Q_PROPERTY(QColor userBubble READ userBubble NOTIFY changed)
    Q_PROPERTY(QColor selection READ selection NOTIFY changed)
    Q_PROPERTY(QColor codeBackground READ codeBackground NOTIFY changed)
    // The chat's text size in pixels (settings: font size); headings and code scale with it.
    Q_PROPERTY(int fontSize READ fontSize WRITE setFontSize NOTIFY changed)

public:
    enum class Mode { System, Light, Dark };
    Q_ENUM(Mode)

    explicit Theme(QObject* parent = nullptr);

    // The instance QML uses in `engine` (created on first use).
    static Theme* instance(QQmlEngine* engine);

    // True when a palette describes a dark desktop (its window color is closer to black than white).
    static bool isDarkPalette(const QPalette& palette);

    Mode mode() const { return mode_; }
    void setMode(Mode mode);
    bool dark() const { return dark_; }

    QColor background() const { return dark_ ? QColor(0x1b1b1f) : QColor(0xffffff); }
    QColor sidebar() const { return dark_ ? QColor(0x141417) : QColor(0xf3f3f6); }
    QColor surface() const { return dark_ ? QColor(0x26262c) : QColor(0xeeeef2); }
    QColor text() const { return dark_ ? QColor(0xececf1) : QColor(0x1d1d21); }
    QColor mutedText() const { return dark_ ? QColor(0x9d9daa) : QColor(0x62626c); }
    QColor border() const { return dark_ ? QColor(0x35353d) : QColor(0xd9d9e0); }
    QColor accent() const { return dark_ ? QColor(0x8da2ff) : QColor(0x3451d1); }
    QColor accentText() const { return dark_ ? QColor(0x0d0f1a) : QColor(0xffffff); }
    QColor error() const { return dark_ ? QColor(0xff8a8a) : QColor(0xb42323); }
    QColor userBubble() const { return dark_ ? QColor(0x2b3152) : QColor(0xe6ebff); }
    QColor selection() const { return dark_ ? QColor(0x2a2f45) : QColor(0xdfe4f7); }
    QColor codeBackground() const { return dark_ ? QColor(0x121215) : QColor(0xf6f6f9); }

    static constexpr int kMinFontSize = 10;
    static constexpr int kMaxFontSize = 24;
    static constexpr int kDefaultFontSize = 14;
    int fontSize() const { return fontSize_; }
    void setFontSize(int pixels); // clamped to [kMinFontSize, kMaxFontSize]

signals:
    void changed();

protected:
    bool eventFilter(QObject* watched, QEvent* event) override;

private:
    void update();

    Mode mode_ = Mode::System;
    bool dark_ = false;
    int fontSize_ = kDefaultFontSize;
};
