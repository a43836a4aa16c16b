// Shared by the UI tests: finding items of the real window by objectName, clicking them and saving
// screenshots where OCELLE_SCREENSHOT_DIR says (docs/screenshots are made this way under Xvfb).
#pragma once

#include <QList>
#include <QQuickItem>
#include <QQuickWindow>
#include <QString>
#include <QtTest>

#include <algorithm>

namespace ocelle::testing {

// Every visible item with this name in `root`'s visual tree, top to bottom.
inline QList<QQuickItem*> visibleItemsUnder(QQuickItem* root, const QString& name) {
    QList<QQuickItem*> found;
    const auto collect = [&](const auto& self, QQuickItem* item) -> void {
        if (!item->isVisible()) return;
        if (item->objectName() == name) found.append(item);
        for (QQuickItem* child : item->childItems()) self(self, child);
    };
    collect(collect, root);
    std::stable_sort(found.begin(), found.end(), [](QQuickItem* a, QQuickItem* b) {
        return a->mapToScene(QPointF()).y() < b->mapToScene(QPointF()).y();
    });
    return found;
}

// The same in the whole window. List delegates and popups are not QObject children of the window,
// so the visual tree is walked from the window's root item (popups live in its overlay, beside the
// content item).
inline QList<QQuickItem*> visibleItems(QQuickWindow* window, const QString& name) {
    QQuickItem* root = window->contentItem();
    while (root->parentItem()) root = root->parentItem();
    return visibleItemsUnder(root, name);
}

// A left click in the middle of a visible item.
inline void clickItem(QQuickWindow* window, QQuickItem* target) {
    QVERIFY(target && target->isVisible());
    const QPointF centre = target->mapToScene(QPointF(target->width() / 2, target->height() / 2));
    QTest::mouseClick(window, Qt::LeftButton, Qt::NoModifier, centre.toPoint());
}

// Grabs the window (checking that it draws) and saves it as `name` in OCELLE_SCREENSHOT_DIR when set.
inline void saveScreenshot(QQuickWindow* window, const QString& name) {
    const QImage image = window->grabWindow();
    QVERIFY(!image.isNull());
    const QString dir = qEnvironmentVariable("OCELLE_SCREENSHOT_DIR");
    if (!dir.isEmpty()) QVERIFY(image.save(dir + QLatin1Char('/') + name));
}

} // namespace ocelle::testing
