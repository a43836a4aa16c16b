// Desktop manners the QML window asks for: its size, position and maximized state kept between
// runs, and telling screen readers about a finished answer once (not every streamed token).
#pragma once

#include <QObject>
#include <QtQml/qqmlregistration.h>

#include <QWindow>

class Desktop : public QObject {
    Q_OBJECT
    QML_ELEMENT
    QML_SINGLETON

public:
    explicit Desktop(QObject* parent = nullptr) : QObject(parent) {}

    Q_INVOKABLE void saveWindow(QWindow* window);
    // False when nothing was saved yet (the window keeps its default size).
    Q_INVOKABLE bool restoreWindow(QWindow* window) const;
    // Sends screen readers an alert with `target`'s accessible name.
    Q_INVOKABLE void announce(QObject* target);

signals:
    // Each announcement, with what was said (tests count them: one per finished answer).
    void announced(const QString& text);
};
