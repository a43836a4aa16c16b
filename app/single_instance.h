// One Ocelle per user: the first process listens on a local socket named for the user; a second
// launch connects, hands over the files from its command line (absolute paths) and exits, and the
// first comes to the front and opens them. The name comes from OCELLE_INSTANCE when set (tests keep
// their app apart from one the user has open).
#pragma once

#include <QLocalServer>
#include <QObject>
#include <QStringList>

class SingleInstance : public QObject {
    Q_OBJECT
public:
    explicit SingleInstance(const QString& name = defaultName(), QObject* parent = nullptr);

    // "ocelle-<hash of the user's home>" or $OCELLE_INSTANCE.
    static QString defaultName();

    // True: this is the first instance and now listens. False: a running instance took `files`
    // (paths are made absolute here, as the running one has another working directory).
    bool claimOrHandOver(const QStringList& files, int timeoutMs = 3000);
    QString name() const { return name_; }

signals:
    // Another launch asked this instance to come forward and open `files` (may be empty).
    void activated(const QStringList& files);

private:
    void onConnection();

    QString name_;
    QLocalServer server_;
};
