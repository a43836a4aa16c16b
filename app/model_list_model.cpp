#include "model_list_model.h"

#include "device_choice.h"

#include <QDir>
#include <QFileInfo>
#include <QLocale>
#include <QSettings>
#include <QStandardPaths>
#include <algorithm>

namespace ocelle::app {

void ModelScanWorker::scan(quint64 generation, const QString& folder, const QStringList& openedFiles) {
    std::vector<ModelFileFacts> models;
    QStringList seen;
    auto add = [&](const QString& path) {
        const QString absolute = QFileInfo(path).absoluteFilePath();
        if (seen.contains(absolute)) return;
        seen << absolute;
        ModelFileFacts facts = inspectModelFile(absolute);
        if (facts.isProjector) return; // paired with its model, not a model of its own
        models.push_back(std::move(facts));
    };
    if (!folder.isEmpty()) {
        const QFileInfoList files = QDir(folder).entryInfoList(QDir::Files | QDir::Readable, QDir::Name);
        for (const QFileInfo& file : files)
            if (hasGgufSuffix(file.fileName())) add(file.absoluteFilePath());
    }
    for (const QString& path : openedFiles)
        if (QFileInfo::exists(path)) add(path);
    emit scanned(generation, models);
}

void ModelScanWorker::resolve(quint64 generation, const QString& deviceChoice) {
    const DeviceTarget target = resolveDevice(deviceChoice.toStdString());
    emit resolved(generation, QString::fromStdString(target.name), target.vulkan,
                  static_cast<qint64>(target.memoryBytes), QString::fromStdString(target.reason));
}

void ModelScanWorker::listDevices() {
    QVariantList devices;
    for (const DeviceOption& option : listDeviceOptions()) {
        QVariantMap entry;
        entry[QStringLiteral("choice")] = QString::fromStdString(option.choice);
        entry[QStringLiteral("name")] = QString::fromStdString(option.name);
        entry[QStringLiteral("memoryBytes")] = static_cast<qint64>(option.memoryBytes);
        entry[QStringLiteral("memoryText")] =
            option.memoryBytes > 0 ? QLocale().formattedDataSize(static_cast<qint64>(option.memoryBytes))
                                   : QString();
        entry[QStringLiteral("usable")] = option.usable;
        entry[QStringLiteral("note")] = QString::fromStdString(option.note);
        devices << entry;
    }
    emit devicesListed(devices);
}

} // namespace ocelle::app

using ocelle::app::ModelFileFacts;

namespace {
const QString kFolderKey = QStringLiteral("models/folder");
const QString kOpenedKey = QStringLiteral("models/openedFiles");
constexpr int kMaxOpenedFiles = 20;
} // namespace

ModelListModel::ModelListModel(QObject* parent) : QAbstractListModel(parent) {
    qRegisterMetaType<std::vector<ModelFileFacts>>();
    worker_ = new ocelle::app::ModelScanWorker;
    worker_->moveToThread(&scannerThread_);
    connect(&scannerThread_, &QThread::finished, worker_, &QObject::deleteLater);
    connect(worker_, &ocelle::app::ModelScanWorker::scanned, this, &ModelListModel::onScanned,
            Qt::QueuedConnection);
    connect(worker_, &ocelle::app::ModelScanWorker::resolved, this, &ModelListModel::onResolved,
            Qt::QueuedConnection);
    connect(worker_, &ocelle::app::ModelScanWorker::devicesListed, this, [this](const QVariantList& devices) {
        devices_ = devices;
        emit devicesChanged();
    });
    scannerThread_.setObjectName(QStringLiteral("ocelle-model-scan"));
    scannerThread_.start();

    rescanTimer_.setSingleShot(true);
    rescanTimer_.setInterval(300);
    connect(&rescanTimer_, &QTimer::timeout, this, &ModelListModel::requestScan);
    connect(&watcher_, &QFileSystemWatcher::directoryChanged, &rescanTimer_, qOverload<>(&QTimer::start));
    connect(&watcher_, &QFileSystemWatcher::fileChanged, &rescanTimer_, qOverload<>(&QTimer::start));

    QSettings settings;
    openedFiles_ = settings.value(kOpenedKey).toStringList();
    folder_ = settings.value(kFolderKey, defaultFolder()).toString();
    if (folder_ == defaultFolder()) QDir().mkpath(folder_); // a place to put models, ready to watch
    if (!folder_.isEmpty()) watcher_.addPath(folder_);
    requestScan();
    requestDeviceResolve();
    QMetaObject::invokeMethod(worker_, &ocelle::app::ModelScanWorker::listDevices, Qt::QueuedConnection);
    connect(&servers_, &RemoteServerList::changed, this, &ModelListModel::rebuildRemoteRows);
    rebuildRemoteRows();
}

QString ModelListModel::remoteKey(const QString& serverUrl, const QString& modelId) {
    return serverUrl + QLatin1Char('#') + modelId;
}

void ModelListModel::rebuildRemoteRows() {
    std::vector<RemoteRow> rows;
    for (const RemoteServerList::Server& server : servers_.servers()) {
        RemoteRow base;
        base.serverName = server.name;
        base.serverUrl = server.baseUrl.toString();
        base.checking = server.checking;
        if (server.models.isEmpty()) {
            base.problem =
                server.checking ? tr("Asking %1 for its models\u2026").arg(server.name) : server.problem;
            rows.push_back(base);
            continue;
        }
        for (const auto& model : server.models) {
            RemoteRow row = base;
            row.modelId = model.id;
            row.inputs << tr("text");
            if (model.images.value_or(false)) row.inputs << tr("image");
            if (model.audio.value_or(false)) row.inputs << tr("audio");
            rows.push_back(row);
        }
    }
    const int before = rowCount();
    const int first = static_cast<int>(rows_.size());
    if (!remoteRows_.empty()) {
        beginRemoveRows({}, first, first + static_cast<int>(remoteRows_.size()) - 1);
        remoteRows_.clear();
        endRemoveRows();
    }
    if (!rows.empty()) {
        beginInsertRows({}, first, first + static_cast<int>(rows.size()) - 1);
        remoteRows_ = std::move(rows);
        endInsertRows();
    }
    if (before != rowCount()) emit countChanged();
}

QVariant ModelListModel::remoteData(const RemoteRow& row, int role) const {
    const bool usable = !row.modelId.isEmpty();
    switch (role) {
    case Qt::DisplayRole:
    case FileNameRole:
    case DisplayNameRole:
        return usable ? row.modelId : row.serverName;
    case PathRole:
        return usable ? remoteKey(row.serverUrl, row.modelId) : QString();
    case InputsRole:
        return row.inputs;
    case UsableRole:
        return usable;
    case ProblemRole:
        return row.problem;
    case MemoryBytesRole:
    case FileSizeRole:
        return qint64(-1);
    case FitsRole:
        return true;
    case MemoryTextRole:
        return tr("runs on %1 (%2)").arg(row.serverName, row.serverUrl);
    case OpenedRole:
        return false;
    case CurrentRole:
        return usable && currentPath_ == remoteKey(row.serverUrl, row.modelId);
    case RemoteRole:
        return true;
    case ServerNameRole:
        return row.serverName;
    case ServerUrlRole:
        return row.serverUrl;
    case ModelIdRole:
        return row.modelId;
    case CheckingRole:
        return row.checking;
    default: // variant, quantization, sizes, projector: a server does not say
        return QString();
    }
}

ModelListModel::~ModelListModel() {
    scannerThread_.quit();
    scannerThread_.wait();
}

QString ModelListModel::defaultFolder() {
    return QStandardPaths::writableLocation(QStandardPaths::AppLocalDataLocation) + QStringLiteral("/models");
}

int ModelListModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : static_cast<int>(rows_.size() + remoteRows_.size());
}

QHash<int, QByteArray> ModelListModel::roleNames() const {
    return {{PathRole, "path"},
            {FileNameRole, "fileName"},
            {DisplayNameRole, "displayName"},
            {VariantRole, "variant"},
            {QuantizationRole, "quantization"},
            {FileSizeRole, "fileSize"},
            {FileSizeTextRole, "fileSizeText"},
            {InputsRole, "inputs"},
            {ProjectorPathRole, "projectorPath"},
            {UsableRole, "usable"},
            {ProblemRole, "problem"},
            {MemoryBytesRole, "memoryBytes"},
            {FitsRole, "fits"},
            {MemoryTextRole, "memoryText"},
            {OpenedRole, "opened"},
            {CurrentRole, "current"},
            {RemoteRole, "remote"},
            {ServerNameRole, "serverName"},
            {ServerUrlRole, "serverUrl"},
            {ModelIdRole, "modelId"},
            {CheckingRole, "checking"}};
}

QVariant ModelListModel::data(const QModelIndex& index, int role) const {
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid)) return {};
    if (size_t(index.row()) >= rows_.size())
        return remoteData(remoteRows_[size_t(index.row()) - rows_.size()], role);
    const ModelFileFacts& row = rows_[static_cast<size_t>(index.row())];
    const qint64 needed = ocelle::app::estimateMemoryBytes(row, contextLength_);
    switch (role) {
    case Qt::DisplayRole:
    case FileNameRole:
        return QFileInfo(row.path).fileName();
    case PathRole:
        return row.path;
    case DisplayNameRole:
        return row.name.isEmpty() ? QFileInfo(row.path).completeBaseName() : row.name;
    case VariantRole:
        return row.variant;
    case QuantizationRole:
        return row.quantization;
    case FileSizeRole:
        return row.fileSize;
    case FileSizeTextRole:
        return row.fileSize > 0 ? QLocale().formattedDataSize(row.fileSize) : QString();
    case InputsRole:
        return row.inputs;
    case ProjectorPathRole:
        return row.projectorPath;
    case UsableRole:
        return row.usable;
    case ProblemRole: // the row already names the file: its folder would only crowd the sentence
        return QString(row.problem).replace(row.path, QFileInfo(row.path).fileName());
    case MemoryBytesRole:
        return needed;
    case FitsRole:
        // Unknown device memory is not a reason to warn.
        return needed >= 0 && (deviceMemoryBytes_ <= 0 || needed <= deviceMemoryBytes_);
    case MemoryTextRole: {
        if (needed < 0) return QString();
        const QString need = QLocale().formattedDataSize(needed);
        if (deviceMemoryBytes_ <= 0) return tr("needs about %1").arg(need);
        const QString have = QLocale().formattedDataSize(deviceMemoryBytes_);
        const QString where = deviceIsVulkan_ ? deviceName_ : tr("RAM");
        if (needed > deviceMemoryBytes_)
            return tr("Won't fit: needs about %1, %2 has %3").arg(need, where, have);
        return tr("needs about %1 of %2 %3").arg(need, have, where);
    }
    case OpenedRole:
        return isOpenedFile(row);
    case CurrentRole:
        return !currentPath_.isEmpty() && row.path == currentPath_;
    case RemoteRole:
    case CheckingRole:
        return false;
    case ServerNameRole:
    case ServerUrlRole:
    case ModelIdRole:
        return QString();
    default:
        return {};
    }
}

bool ModelListModel::isOpenedFile(const ModelFileFacts& facts) const {
    return QFileInfo(facts.path).absolutePath() != QFileInfo(folder_).absoluteFilePath();
}

QString ModelListModel::deviceSummary() const {
    if (deviceName_.isEmpty()) return tr("Looking for devices\u2026");
    const QString memory =
        deviceMemoryBytes_ > 0 ? QLocale().formattedDataSize(deviceMemoryBytes_) : tr("unknown");
    return deviceIsVulkan_ ? tr("Estimates at %1 tokens of context for %2 (Vulkan, %3 of device memory).")
                                 .arg(contextLength_)
                                 .arg(deviceName_, memory)
                           : tr("Estimates at %1 tokens of context for the CPU (%2 of RAM).")
                                 .arg(contextLength_)
                                 .arg(memory);
}

void ModelListModel::setFolder(const QString& folder) {
    const QString cleaned =
        folder.isEmpty() ? QString() : QDir::cleanPath(QFileInfo(folder).absoluteFilePath());
    if (cleaned == folder_) return;
    if (!folder_.isEmpty()) watcher_.removePath(folder_);
    folder_ = cleaned;
    QSettings().setValue(kFolderKey, folder_);
    if (!folder_.isEmpty()) watcher_.addPath(folder_);
    emit folderChanged();
    requestScan();
}

void ModelListModel::setFolderUrl(const QUrl& folder) {
    setFolder(folder.isLocalFile() ? folder.toLocalFile() : folder.toString());
}

void ModelListModel::setContextLength(int tokens) {
    if (tokens < 1 || tokens == contextLength_) return;
    contextLength_ = tokens;
    emit estimatesChanged();
    if (!rows_.empty())
        emit dataChanged(index(0), index(rowCount() - 1), {MemoryBytesRole, FitsRole, MemoryTextRole});
}

void ModelListModel::setDeviceChoice(const QString& choice) {
    if (choice == deviceChoice_) return;
    deviceChoice_ = choice;
    emit estimatesChanged();
    requestDeviceResolve();
}

void ModelListModel::setDeviceForTesting(const QString& name, qint64 memoryBytes) {
    deviceFixedForTesting_ = true;
    onResolved(++deviceGeneration_, name, name != QLatin1String("CPU"), memoryBytes, QString());
}

void ModelListModel::setCurrentPath(const QString& path) {
    const bool remote = path.contains(QLatin1String("://"));
    const QString absolute = path.isEmpty() || remote ? path : QFileInfo(path).absoluteFilePath();
    if (absolute == currentPath_) return;
    const int before = rowOf(currentPath_);
    currentPath_ = absolute;
    const int after = rowOf(currentPath_);
    for (int row : {before, after})
        if (row >= 0) emit dataChanged(index(row), index(row), {CurrentRole});
    emit currentPathChanged();
}

void ModelListModel::addOpenedFile(const QString& path) {
    const QString absolute = QFileInfo(path).absoluteFilePath();
    if (QFileInfo(absolute).absolutePath() == QFileInfo(folder_).absoluteFilePath()) return; // listed anyway
    openedFiles_.removeAll(absolute);
    openedFiles_.prepend(absolute);
    while (openedFiles_.size() > kMaxOpenedFiles) openedFiles_.removeLast();
    QSettings().setValue(kOpenedKey, openedFiles_);
    requestScan();
}

void ModelListModel::rescan() {
    requestScan();
}

int ModelListModel::rowOf(const QString& path) const {
    if (path.isEmpty()) return -1;
    for (size_t i = 0; i < remoteRows_.size(); ++i)
        if (!remoteRows_[i].modelId.isEmpty() &&
            remoteKey(remoteRows_[i].serverUrl, remoteRows_[i].modelId) == path)
            return static_cast<int>(rows_.size() + i);
    const QString absolute = QFileInfo(path).absoluteFilePath();
    for (size_t i = 0; i < rows_.size(); ++i)
        if (rows_[i].path == absolute) return static_cast<int>(i);
    return -1;
}

void ModelListModel::requestScan() {
    const quint64 generation = ++scanGeneration_;
    if (!scanning_) {
        scanning_ = true;
        emit scanningChanged();
    }
    QMetaObject::invokeMethod(
        worker_,
        [worker = worker_, generation, folder = folder_, opened = openedFiles_] {
            worker->scan(generation, folder, opened);
        },
        Qt::QueuedConnection);
}

void ModelListModel::requestDeviceResolve() {
    if (deviceFixedForTesting_) return;
    const quint64 generation = ++deviceGeneration_;
    QMetaObject::invokeMethod(
        worker_,
        [worker = worker_, generation, choice = deviceChoice_] { worker->resolve(generation, choice); },
        Qt::QueuedConnection);
}

void ModelListModel::onScanned(quint64 generation, const std::vector<ModelFileFacts>& models) {
    if (generation != scanGeneration_) return; // a newer scan is on its way
    const int before = rowCount();
    beginResetModel();
    rows_ = models;
    // The models folder's files by name, then the files opened from elsewhere by name.
    std::stable_sort(rows_.begin(), rows_.end(), [this](const ModelFileFacts& a, const ModelFileFacts& b) {
        const bool aOpened = isOpenedFile(a), bOpened = isOpenedFile(b);
        if (aOpened != bOpened) return !aOpened;
        return QFileInfo(a.path).fileName().compare(QFileInfo(b.path).fileName(), Qt::CaseInsensitive) < 0;
    });
    endResetModel();
    watch(rows_);
    if (before != rowCount()) emit countChanged();
    scanning_ = false;
    emit scanningChanged();
    emit scanFinished();
}

void ModelListModel::watch(const std::vector<ModelFileFacts>& models) {
    // Files too: a download growing in place, or a file replaced, changes no directory entry.
    const QStringList old = watcher_.files();
    if (!old.isEmpty()) watcher_.removePaths(old);
    QStringList files;
    for (const auto& row : models) files << row.path;
    if (!files.isEmpty()) watcher_.addPaths(files);
    // The folders of opened files, so that a paired mmproj appearing there is noticed.
    for (const auto& row : models) {
        const QString dir = QFileInfo(row.path).absolutePath();
        if (!watcher_.directories().contains(dir)) watcher_.addPath(dir);
    }
}

void ModelListModel::onResolved(quint64 generation, const QString& name, bool vulkan, qint64 memoryBytes,
                                const QString& reason) {
    if (generation != deviceGeneration_) return;
    deviceName_ = name;
    deviceIsVulkan_ = vulkan;
    deviceMemoryBytes_ = memoryBytes;
    deviceReason_ = reason;
    emit estimatesChanged();
    if (!rows_.empty())
        emit dataChanged(index(0), index(rowCount() - 1), {MemoryBytesRole, FitsRole, MemoryTextRole});
}
