// Where the main window's QML lives inside the Ocelle.Ui module's resources (Qt 6.4 has no
// QQmlApplicationEngine::loadFromModule), shared by the app and the UI tests.
#pragma once

namespace ocelle::ui {
inline constexpr char kMainQmlUrl[] = "qrc:/qt/qml/Ocelle/Ui/Main.qml";
}
