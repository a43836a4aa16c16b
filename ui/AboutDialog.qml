// Help > About Ocelle: the app's name, icon and version (PROJECT_VERSION, through AppInfo), the
// media backends of this build, and the Gemma terms the models come under.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import Ocelle.App

Popup {
    id: about
    objectName: "aboutDialog"

    modal: true
    focus: true
    anchors.centerIn: Overlay.overlay
    width: Math.min(parent ? parent.width - 80 : 460, 460)
    padding: 24
    closePolicy: Popup.CloseOnEscape | Popup.CloseOnPressOutside

    background: Rectangle {
        color: Theme.background
        radius: 12
        border.color: Theme.border
    }

    ColumnLayout {
        anchors.left: parent.left
        anchors.right: parent.right
        spacing: 10

        Image {
            Layout.alignment: Qt.AlignHCenter
            source: "qrc:/ocelle/icons/ocelle.svg"
            sourceSize: Qt.size(96, 96)
            Accessible.ignored: true
        }
        Label {
            Layout.alignment: Qt.AlignHCenter
            text: "Ocelle"
            font.pixelSize: 24
            font.weight: Font.DemiBold
            color: Theme.text
            Accessible.role: Accessible.Heading
        }
        Label {
            objectName: "aboutVersionLabel"
            Layout.alignment: Qt.AlignHCenter
            text: qsTr("Version %1").arg(AppInfo.version)
            color: Theme.text
        }
        Label {
            Layout.fillWidth: true
            horizontalAlignment: Text.AlignHCenter
            wrapMode: Text.WordWrap
            text: qsTr("Chat with Google's Gemma 4 models on this computer. Nothing leaves the machine.")
            color: Theme.text
        }
        Label {
            objectName: "aboutBackendsLabel"
            Layout.fillWidth: true
            horizontalAlignment: Text.AlignHCenter
            wrapMode: Text.WordWrap
            text: AppInfo.mediaBackends
            color: Theme.mutedText
            font.pixelSize: Theme.fontSize - 2
        }
        Label {
            Layout.fillWidth: true
            horizontalAlignment: Text.AlignHCenter
            wrapMode: Text.WordWrap
            text: qsTr("Gemma models are provided under and subject to the Gemma Terms of Use.")
            color: Theme.mutedText
            font.pixelSize: Theme.fontSize - 2
        }
        QuietButton {
            objectName: "aboutCloseButton"
            Layout.alignment: Qt.AlignHCenter
            Layout.topMargin: 6
            text: qsTr("Close")
            onClicked: about.close()
        }
    }
}
