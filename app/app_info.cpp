#include "app_info.h"

#include "media/capabilities.h"

#ifndef OCELLE_VERSION
#error "OCELLE_VERSION must be defined by the build"
#endif

AppInfo::AppInfo(QObject* parent) : QObject(parent) {
    mediaBackends_ = QString::fromStdString(ocelle::media::capabilities().summary());
}

QString AppInfo::version() {
    return QStringLiteral(OCELLE_VERSION);
}

QString AppInfo::diagnostics() const {
    return tr("Ocelle %1 \u00b7 %2").arg(version(), mediaBackends_);
}
