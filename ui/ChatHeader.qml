// The bar above the chat: the conversation's title and which model is in use.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import Ocelle.App

Rectangle {
    id: header
    signal openModelRequested()
    signal modelListRequested()

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

        // The model in use; a click opens the model list.
        QuietButton {
            id: modelButton
            objectName: "headerModelButton"
            Layout.maximumWidth: 520
            outlined: false
            text: ModelController.modelLoaded
                  ? qsTr("%1 \u00b7 %2").arg(ModelController.fileName).arg(ModelController.summary)
                  : ModelController.busy ? qsTr("Loading %1\u2026 %2%").arg(ModelController.fileName)
                                                .arg(Math.round(ModelController.loadProgress * 100))
                                         : qsTr("No model loaded")
            contentItem: Label {
                objectName: "headerModelLabel"
                text: modelButton.text
                elide: Text.ElideMiddle
                color: ModelController.cpuFallback ? Theme.text : Theme.mutedText
                verticalAlignment: Text.AlignVCenter
            }
            onClicked: header.modelListRequested()
            ToolTip.visible: hovered
            ToolTip.text: ModelController.modelLoaded
                          ? qsTr("Device: %1. %2 Context: %3 tokens. Click to see all models.")
                                .arg(ModelController.device).arg(ModelController.deviceReason)
                                .arg(ModelController.contextLength)
                          : qsTr("Show the models (Ctrl+M)")
            Accessible.name: qsTr("Models: %1").arg(text)
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

    // Loading progress along the bottom edge (weights read into memory or uploaded to the GPU).
    ProgressBar {
        objectName: "headerLoadProgress"
        anchors.left: parent.left
        anchors.right: parent.right
        anchors.bottom: parent.bottom
        visible: ModelController.busy
        from: 0
        to: 1
        value: ModelController.loadProgress
        background: Item { implicitHeight: 3 }
        contentItem: Item {
            implicitHeight: 3
            Rectangle {
                width: parent.width * ModelController.loadProgress
                height: parent.height
                color: Theme.accent
            }
        }
        Accessible.name: qsTr("Loading the model")
    }
}
