#include "desktop.h"

#include <QAccessible>
#include <QGuiApplication>
#include <QRect>
#include <QScreen>
#include <QSettings>
#include <QWindow>

void Desktop::saveWindow(QWindow* window) {
    if (!window) return;
    QSettings().setValue(QStringLiteral("window/maximized"), window->visibility() == QWindow::Maximized);
    // A maximized window's own geometry is the screen's: keep the normal one from before.
    if (window->visibility() != QWindow::Maximized)
        QSettings().setValue(QStringLiteral("window/geometry"), window->geometry());
}

bool Desktop::restoreWindow(QWindow* window) const {
    if (!window) return false;
    const QRect saved = QSettings().value(QStringLiteral("window/geometry")).toRect();
    if (!saved.isValid()) return false;
    // Only where a screen still shows most of it (a monitor may have been unplugged).
    bool visible = false;
    for (QScreen* screen : QGuiApplication::screens()) {
        const QRect shown = screen->availableGeometry().intersected(saved);
        visible = visible || shown.width() * shown.height() * 2 >= saved.width() * saved.height();
    }
    if (visible) window->setGeometry(saved);
    else window->resize(saved.size());
    if (QSettings().value(QStringLiteral("window/maximized")).toBool()) window->showMaximized();
    return true;
}

void Desktop::announce(QObject* target) {
    if (!target) return;
    QAccessibleEvent event(target, QAccessible::Alert); // Qt drops it while no screen reader listens
    QAccessible::updateAccessibility(&event);
    QAccessibleInterface* iface = QAccessible::queryAccessibleInterface(target);
    emit announced(iface ? iface->text(QAccessible::Name) : QString());
}
