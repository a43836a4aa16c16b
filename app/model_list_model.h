// The model list: every GGUF file in the models folder, plus the files the user opened from
// elsewhere (file dialog, drag and drop). Files are read on a scanner thread, never on the GUI
// thread; the folder is watched and rescanned when files appear, disappear or change. mmproj files
// are paired with their model and not listed; files that are not usable Gemma 4 models are listed
// with the reason. Each row carries an estimate of the memory the model needs at the chosen context
// length, compared with the memory of the chosen device (RAM for the CPU, the Vulkan device's
// heaps), so a model that will not fit says so before it is loaded. After the files come the models of
// the OpenAI-compatible servers the user added (RemoteServerList), marked remote with their server's
// name; a server that cannot be reached is one row with the reason.
#pragma once

#include "model_file.h"
#include "remote_server_list.h"

#include <QAbstractListModel>
#include <QFileSystemWatcher>
#include <QStringList>
#include <QThread>
#include <QTimer>
#include <QUrl>
#include <QtQml/qqmlregistration.h>
#include <vector>

namespace ocelle::app {
struct DeviceTarget;

// Lives on the scanner thread; reads files and probes devices.
class ModelScanWorker : public QObject {
    Q_OBJECT
public:
    void scan(quint64 generation, const QString& folder, const QStringList& openedFiles);
    void resolve(quint64 generation, const QString& deviceChoice);
    void listDevices();
signals:
    void devicesListed(const QVariantList& devices);
    void scanned(quint64 generation, const std::vector<ocelle::app::ModelFileFacts>& models);
    void resolved(quint64 generation, const QString& name, bool vulkan, qint64 memoryBytes,
                  const QString& reason);
};

} // namespace ocelle::app

class ModelListModel : public QAbstractListModel {
    Q_OBJECT
    QML_ELEMENT
    QML_UNCREATABLE("ModelController.library is the app's model list")

    Q_PROPERTY(int count READ rowCount NOTIFY countChanged)
    Q_PROPERTY(QString folder READ folder WRITE setFolder NOTIFY folderChanged)
    Q_PROPERTY(bool scanning READ scanning NOTIFY scanningChanged)
    Q_PROPERTY(int contextLength READ contextLength WRITE setContextLength NOTIFY estimatesChanged)
    Q_PROPERTY(QString deviceChoice READ deviceChoice WRITE setDeviceChoice NOTIFY estimatesChanged)
    Q_PROPERTY(QString deviceName READ deviceName NOTIFY estimatesChanged)
    Q_PROPERTY(qint64 deviceMemoryBytes READ deviceMemoryBytes NOTIFY estimatesChanged)
    Q_PROPERTY(QString deviceSummary READ deviceSummary NOTIFY estimatesChanged)
    Q_PROPERTY(QString currentPath READ currentPath WRITE setCurrentPath NOTIFY currentPathChanged)
    // The device setting's choices: maps of choice, name, memoryBytes, memoryText, usable, note.
    Q_PROPERTY(QVariantList devices READ devices NOTIFY devicesChanged)
    Q_PROPERTY(RemoteServerList* servers READ servers CONSTANT)

public:
    enum Role {
        PathRole = Qt::UserRole + 1,
        FileNameRole,
        DisplayNameRole,
        VariantRole,
        QuantizationRole,
        FileSizeRole,
        FileSizeTextRole,
        InputsRole,
        ProjectorPathRole,
        UsableRole,
        ProblemRole,
        MemoryBytesRole,
        FitsRole,
        MemoryTextRole,
        OpenedRole,  // opened from outside the models folder
        CurrentRole, // the model loaded (or loading) now
        RemoteRole,  // a model on a server; path is remoteKey(serverUrl, modelId)
        ServerNameRole,
        ServerUrlRole, // the server's base URL; the list's sections (empty for files)
        ModelIdRole,
        CheckingRole // the server's model list is being fetched
    };
    Q_ENUM(Role)

    explicit ModelListModel(QObject* parent = nullptr);
    ~ModelListModel() override;

    int rowCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role) const override;
    QHash<int, QByteArray> roleNames() const override;

    QString folder() const { return folder_; }
    void setFolder(const QString& folder);
    Q_INVOKABLE void setFolderUrl(const QUrl& folder);
    bool scanning() const { return scanning_; }
    int contextLength() const { return contextLength_; }
    void setContextLength(int tokens);
    QString deviceChoice() const { return deviceChoice_; }
    void setDeviceChoice(const QString& choice);
    QString deviceName() const { return deviceName_; }
    qint64 deviceMemoryBytes() const { return deviceMemoryBytes_; }
    QString deviceSummary() const;
    QString currentPath() const { return currentPath_; }
    QVariantList devices() const { return devices_; }
    void setCurrentPath(const QString& path);

    // A file opened from elsewhere joins the list (and is remembered) when it is not in the folder.
    void addOpenedFile(const QString& path);
    Q_INVOKABLE void rescan();
    RemoteServerList* servers() { return &servers_; }
    // The path of a remote model's row (and ModelController's modelPath for it).
    static QString remoteKey(const QString& serverUrl, const QString& modelId);
    // The row of a path, -1 when it is not listed.
    Q_INVOKABLE int rowOf(const QString& path) const;

    // The default models folder: "models" in the user's data directory.
    static QString defaultFolder();
    // Test seam: the device's memory without probing (estimates compare against this).
    void setDeviceForTesting(const QString& name, qint64 memoryBytes);

signals:
    void countChanged();
    void folderChanged();
    void scanningChanged();
    void estimatesChanged();
    void currentPathChanged();
    void devicesChanged();
    // A scan finished and the rows are up to date (tests wait for it).
    void scanFinished();

private:
    void requestScan();
    void requestDeviceResolve();
    void onScanned(quint64 generation, const std::vector<ocelle::app::ModelFileFacts>& models);
    void onResolved(quint64 generation, const QString& name, bool vulkan, qint64 memoryBytes,
                    const QString& reason);
    void watch(const std::vector<ocelle::app::ModelFileFacts>& models);
    bool isOpenedFile(const ocelle::app::ModelFileFacts& facts) const;

    struct RemoteRow {
        QString serverName;
        QString serverUrl;
        QString modelId; // empty: the server's row when it lists no models (problem or checking)
        QStringList inputs;
        QString problem;
        bool checking = false;
    };
    void rebuildRemoteRows();
    QVariant remoteData(const RemoteRow& row, int role) const;

    std::vector<ocelle::app::ModelFileFacts> rows_;
    std::vector<RemoteRow> remoteRows_; // listed after rows_
    RemoteServerList servers_;
    QString folder_;
    QStringList openedFiles_;
    QString currentPath_;
    int contextLength_ = 4096;
    QString deviceChoice_ = QStringLiteral("auto");
    QString deviceName_;
    bool deviceIsVulkan_ = false;
    qint64 deviceMemoryBytes_ = 0;
    QString deviceReason_;
    bool deviceFixedForTesting_ = false;
    bool scanning_ = false;
    QVariantList devices_;

    QThread scannerThread_;
    ocelle::app::ModelScanWorker* worker_;
    quint64 scanGeneration_ = 0;
    quint64 deviceGeneration_ = 0;
    QFileSystemWatcher watcher_;
    QTimer rescanTimer_; // folds a burst of file-system events into one scan
};
