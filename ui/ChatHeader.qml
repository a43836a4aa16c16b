// The bar above the chat: the conversation's title and which model is in use.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import Ocelle.App

Rectangle {
    id: header
    signal openModelRequested()

    implicitHeight: 52
    color: Theme.background

    RowLayout {
        anchors.fill: parent
        anchors.leftMargin: 20
        anchors.rightMargin: 12
        spacing: 12

        Label {
            Layout.fillWidth: true
            text: ChatController.currentTitle.length > 0 ? ChatController.currentTitle : qsTr("Chat")
            font.pixelSize: 16
            font.weight: Font.DemiBold
            color: Theme.text
            elide: Text.ElideRight
        }

        Label {
            objectName: "headerModelLabel"
            Layout.maximumWidth: 320
            elide: Text.ElideMiddle
            color: Theme.mutedText
            text: ModelController.state === ModelController.Inspected
                  ? qsTr("%1 (not running yet)").arg(ModelController.fileName)
                  : qsTr("No model loaded")
        }

        QuietButton {
            objectName: "headerOpenModelButton"
            text: qsTr("Open model\u2026")
            onClicked: header.openModelRequested()
            Accessible.name: qsTr("Open model")
            ToolTip.visible: hovered
            ToolTip.text: qsTr("Choose a Gemma 4 GGUF file (Ctrl+O)")
        }
    }

    Rectangle {
        anchors.left: parent.left
        anchors.right: parent.right
        anchors.bottom: parent.bottom
        height: 1
        color: Theme.border
    }
}
