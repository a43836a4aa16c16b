// Shown while there is nothing to chat with: what Ocelle needs and how to give it.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import Ocelle.App

Item {
    id: emptyState
    objectName: "emptyState"
    signal openModelRequested()

    ColumnLayout {
        anchors.centerIn: parent
        width: Math.min(parent.width - 64, 560)
        spacing: 16

        Label {
            objectName: "emptyStateTitle"
            Layout.fillWidth: true
            horizontalAlignment: Text.AlignHCenter
            wrapMode: Text.Wrap
            text: qsTr("Ocelle needs a Gemma 4 model")
            font.pixelSize: 26
            font.weight: Font.DemiBold
            color: Theme.text
            Accessible.role: Accessible.Heading
        }

        Label {
            objectName: "emptyStateBody"
            Layout.fillWidth: true
            horizontalAlignment: Text.AlignHCenter
            wrapMode: Text.Wrap
            lineHeight: 1.25
            color: Theme.mutedText
            text: qsTr("Ocelle runs Google's Gemma 4 models entirely on this computer. Open a Gemma 4 "
                       + "model file in GGUF format: the text model (for example gemma-4-E2B-it), and "
                       + "optionally its mmproj file, which adds images and audio.")
        }

        PrimaryButton {
            objectName: "openModelButton"
            Layout.alignment: Qt.AlignHCenter
            Layout.topMargin: 4
            text: qsTr("Open model\u2026")
            onClicked: emptyState.openModelRequested()
            Accessible.name: qsTr("Open model")
            Accessible.description: qsTr("Choose a Gemma 4 GGUF file")
        }

        Label {
            objectName: "modelStatusText"
            Layout.fillWidth: true
            Layout.topMargin: 4
            visible: ModelController.state !== ModelController.NoModel
            horizontalAlignment: Text.AlignHCenter
            wrapMode: Text.Wrap
            text: ModelController.statusText
            color: ModelController.state === ModelController.Failed ? Theme.error : Theme.text
            Accessible.role: Accessible.StaticText
            Accessible.name: text
        }
    }
}
