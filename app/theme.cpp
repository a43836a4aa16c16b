#include "theme.h"

#include <QEvent>
#include <algorithm>
#include <QGuiApplication>
#include <QQmlEngine>
#include <QtQml/qqml.h>

Theme::Theme(QObject* parent) : QObject(parent) {
    // Palette changes (the desktop switching between light and dark) are delivered to the
    // application object as ApplicationPaletteChange events.
    if (qApp) qApp->installEventFilter(this);
    update();
}

Theme* Theme::instance(QQmlEngine* engine) {
    return engine->singletonInstance<Theme*>(qmlTypeId("Ocelle.App", 1, 0, "Theme"));
}

bool Theme::isDarkPalette(const QPalette& palette) {
    return palette.color(QPalette::Active, QPalette::Window).lightnessF() < 0.5;
}

void Theme::setMode(Mode mode) {
    if (mode == mode_) return;
    mode_ = mode;
    update();
    emit changed(); // mode itself changed even if the colors did not
}

bool Theme::eventFilter(QObject* watched, QEvent* event) {
    if (watched == qApp && event->type() == QEvent::ApplicationPaletteChange) update();
    return QObject::eventFilter(watched, event);
}

void Theme::update() {
    bool dark = false;
    switch (mode_) {
    case Mode::System:
        dark = isDarkPalette(QGuiApplication::palette());
        break;
    case Mode::Light:
        dark = false;
        break;
    case Mode::Dark:
        dark = true;
        break;
    }
    if (dark == dark_) return;
    dark_ = dark;
    emit changed();
}

void Theme::setFontSize(int pixels) {
    pixels = std::clamp(pixels, kMinFontSize, kMaxFontSize);
    if (pixels == fontSize_) return;
    fontSize_ = pixels;
    emit changed();
}
