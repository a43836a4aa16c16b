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
            Layout.maximumWidth: 520
            elide: Text.ElideMiddle
            color: Theme.mutedText
            text: ModelController.modelLoaded
                  ? qsTr("%1 \u00b7 %2").arg(ModelController.fileName).arg(ModelController.summary)
                  : ModelController.busy ? qsTr("Loading %1\u2026").arg(ModelController.fileName)
                                         : qsTr("No model loaded")
            ToolTip.visible: modelLabelHover.hovered && ModelController.modelLoaded
            ToolTip.text: qsTr("Device: %1. %2 Context: %3 tokens.")
                          .arg(ModelController.device).arg(ModelController.deviceReason)
                          .arg(ModelController.contextLength)
            HoverHandler { id: modelLabelHover }
            Accessible.role: Accessible.StaticText
            Accessible.name: text
        }

        BusyIndicator {
            Layout.preferredWidth: 24
            Layout.preferredHeight: 24
            visible: ModelController.busy
            running: visible
        }

        QuietButton {
            objectName: "headerUnloadButton"
            visible: ModelController.modelLoaded || ModelController.busy
            text: ModelController.busy ? qsTr("Cancel") : qsTr("Unload")
            onClicked: ModelController.busy ? ModelController.cancelLoad() : ModelController.unload()
            Accessible.name: ModelController.busy ? qsTr("Cancel loading the model") : qsTr("Unload the model")
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
