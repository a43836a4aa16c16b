// Shown while there is nothing to chat with: what Ocelle needs and how to give it.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import Ocelle.App

Item {
    id: emptyState
    objectName: "emptyState"
    signal openModelRequested()
    signal modelListRequested()

    ColumnLayout {
        anchors.centerIn: parent
        width: Math.min(parent.width - 64, 560)
        spacing: 16

        Label {
            objectName: "emptyStateTitle"
            Layout.fillWidth: true
            horizontalAlignment: Text.AlignHCenter
            wrapMode: Text.Wrap
            text: ModelController.modelLoaded ? qsTr("Ask Gemma anything")
                                              : qsTr("Ocelle needs a Gemma 4 model")
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
            text: ModelController.modelLoaded
                  ? qsTr("%1 is ready. Write below; the answer is generated on this computer (%2).")
                        .arg(ModelController.fileName).arg(ModelController.device)
                  : qsTr("Ocelle runs Google's Gemma 4 models entirely on this computer. Open a Gemma 4 "
                         + "model file in GGUF format: the text model (for example gemma-4-E2B-it), and "
                         + "optionally its mmproj file, which adds images and audio.")
        }

        ProgressBar {
            objectName: "modelLoadingIndicator"
            Layout.alignment: Qt.AlignHCenter
            Layout.preferredWidth: 320
            visible: ModelController.busy
            from: 0
            to: 1
            value: ModelController.loadProgress
            Accessible.name: qsTr("Loading the model")
        }

        QuietButton {
            objectName: "cancelLoadButton"
            Layout.alignment: Qt.AlignHCenter
            visible: ModelController.busy
            text: qsTr("Cancel loading")
            onClicked: ModelController.cancelLoad()
            Accessible.name: qsTr("Cancel loading the model")
        }

        RowLayout {
            Layout.alignment: Qt.AlignHCenter
            Layout.topMargin: 4
            spacing: 12
            visible: !ModelController.busy && !ModelController.modelLoaded

            PrimaryButton {
                objectName: "openModelButton"
                text: qsTr("Open model\u2026")
                onClicked: emptyState.openModelRequested()
                Accessible.name: qsTr("Open model")
                Accessible.description: qsTr("Choose a Gemma 4 GGUF file")
            }
            QuietButton {
                objectName: "showModelsButton"
                text: ModelController.library.count > 0
                      ? qsTr("Your models (%1)").arg(ModelController.library.count)
                      : qsTr("Models folder\u2026")
                onClicked: emptyState.modelListRequested()
                Accessible.name: qsTr("Show the model list")
                ToolTip.visible: hovered
                ToolTip.text: qsTr("The models in %1 (Ctrl+M)").arg(ModelController.library.folder)
            }
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
