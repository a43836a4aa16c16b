// Where messages are written: Enter sends, Shift+Enter starts a new line. Above the field: the
// attachments (button, drop on the window, paste) and, while recording, the microphone's level and
// time. Inputs the loaded model cannot take are disabled and their tooltip says why.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import QtQuick.Dialogs
import QtCore
import QtMultimedia
import Ocelle.App

Rectangle {
    id: composer
    objectName: "composer"
    color: Theme.background
    implicitHeight: column.implicitHeight + 28

    readonly property var recorder: ChatController.recorder

    function focusInput() {
        input.forceActiveFocus()
    }

    function submit() {
        if (ChatController.send(input.text))
            input.clear()
    }

    ColumnLayout {
        id: column
        anchors.left: parent.left
        anchors.right: parent.right
        anchors.top: parent.top
        anchors.leftMargin: 24
        anchors.rightMargin: 24
        anchors.topMargin: 8
        spacing: 8

        Label {
            objectName: "composerNotice"
            Layout.fillWidth: true
            visible: text.length > 0
            text: ChatController.notice.length > 0 ? ChatController.notice
                                                   : composer.recorder.message.length > 0 ? composer.recorder.message
                                                   : ChatController.camera.message
            wrapMode: Text.Wrap
            color: Theme.error
            Accessible.role: Accessible.AlertMessage
            Accessible.name: text
        }

        AttachmentStrip {
            Layout.fillWidth: true
            Layout.preferredHeight: implicitHeight
            visible: ChatController.attachments.count > 0
        }

        Label {
            objectName: "attachmentTokens"
            Layout.fillWidth: true
            visible: ChatController.attachments.count > 0
            text: ChatController.attachments.preparing ? qsTr("Preparing attachments\u2026")
                  : qsTr("Attachments: about %1 prompt tokens").arg(ChatController.attachments.totalTokens.toLocaleString(Qt.locale(), 'f', 0))
            color: Theme.mutedText
            font.pixelSize: 12
        }

        RecordingBar {
            Layout.fillWidth: true
            visible: composer.recorder.recording
        }

        Rectangle {
            Layout.fillWidth: true
            implicitHeight: inputRow.implicitHeight + 16
            radius: 12
            color: Theme.surface
            border.color: input.activeFocus ? Theme.accent : Theme.border
            border.width: 1

            RowLayout {
                id: inputRow
                anchors.fill: parent
                anchors.margins: 8
                spacing: 8

                QuietButton {
                    objectName: "attachButton"
                    Layout.alignment: Qt.AlignBottom
                    outlined: false
                    text: qsTr("Attach")
                    onClicked: {
                        if (ChatController.requestAttachment())
                            attachDialog.open()
                    }
                    Accessible.name: qsTr("Attach a file")
                    Accessible.description: qsTr("Add an image, PDF, video or audio file; you can also drop or paste them")
                    ToolTip.visible: hovered
                    ToolTip.delay: 500
                    ToolTip.text: {
                        let lines = [qsTr("Attach images, PDFs, videos or audio files (or drop them on the window, or paste)")]
                        if (ChatController.imageInputReason.length > 0)
                            lines.push(ChatController.imageInputReason)
                        if (!ChatController.camera.available)
                            lines.push(qsTr("No camera button: %1").arg(ChatController.camera.unavailableReason))
                        return lines.join("\n")
                    }
                }

                QuietButton {
                    id: micButton
                    objectName: "micButton"
                    Layout.alignment: Qt.AlignBottom
                    outlined: false
                    // Disabled with the reason before anything is recorded (e.g. a model that cannot hear).
                    enabled: composer.recorder.blockedReason.length === 0
                    text: composer.recorder.recording ? qsTr("\u25A0 Mic") : qsTr("\u25CF Mic")
                    property bool held: false
                    // Why it is disabled, for the tooltip and for tests.
                    readonly property string disabledReason: composer.recorder.blockedReason
                    // Click toggles; press and hold records until released.
                    onClicked: if (!held) composer.recorder.toggle()
                    onPressAndHold: { held = composer.recorder.start() }
                    onReleased: if (held) { composer.recorder.stop(); held = false }
                    Accessible.name: composer.recorder.recording ? qsTr("Stop recording") : qsTr("Record from the microphone")
                    Accessible.description: enabled ? qsTr("Click to start and stop, or hold while speaking (at most %1 seconds)").arg(composer.recorder.maxSeconds)
                                                    : composer.recorder.blockedReason
                    ToolTip.visible: hovered || (!enabled && micHover.hovered)
                    ToolTip.delay: 300
                    ToolTip.text: enabled ? qsTr("Record a question (click, or hold while speaking; at most %1 s)").arg(composer.recorder.maxSeconds)
                                          : composer.recorder.blockedReason
                    HoverHandler { id: micHover; enabled: true }
                }

                QuietButton {
                    objectName: "micDeviceButton"
                    Layout.alignment: Qt.AlignBottom
                    outlined: false
                    leftPadding: 4
                    rightPadding: 4
                    visible: composer.recorder.devices.length > 1
                    text: "\u25BE"
                    onClicked: deviceMenu.open()
                    Accessible.name: qsTr("Choose the microphone")
                    Menu {
                        id: deviceMenu
                        Repeater {
                            model: composer.recorder.devices
                            MenuItem {
                                required property var modelData
                                text: modelData.name
                                checkable: true
                                checked: composer.recorder.deviceId === modelData.id
                                         || (composer.recorder.deviceId.length === 0 && modelData.isDefault)
                                onTriggered: composer.recorder.deviceId = modelData.id
                            }
                        }
                    }
                }

                QuietButton {
                    objectName: "cameraButton"
                    Layout.alignment: Qt.AlignBottom
                    outlined: false
                    visible: ChatController.camera.available
                    enabled: ChatController.imageInputReason.length === 0
                    text: qsTr("Camera")
                    onClicked: cameraPopup.open()
                    Accessible.name: qsTr("Take a picture with the camera")
                    ToolTip.visible: hovered
                    ToolTip.text: enabled ? qsTr("Take a picture and attach it") : ChatController.imageInputReason
                }

                ScrollView {
                    Layout.fillWidth: true
                    Layout.preferredHeight: Math.min(input.implicitHeight, 180)

                    TextArea {
                        id: input
                        objectName: "composerInput"
                        wrapMode: TextEdit.Wrap
                        textFormat: TextEdit.PlainText
                        placeholderText: qsTr("Message Gemma (Enter sends, Shift+Enter adds a line)")
                        background: null
                        Accessible.name: qsTr("Message")
                        Accessible.description: qsTr("Enter sends, Shift+Enter adds a line")

                        Keys.onPressed: event => {
                            // An image or files on the clipboard become attachments; text pastes as usual.
                            if (event.matches(StandardKey.Paste) && ChatController.pasteAttachment()) {
                                event.accepted = true
                                return
                            }
                            if (event.key !== Qt.Key_Return && event.key !== Qt.Key_Enter)
                                return
                            event.accepted = true
                            if (event.modifiers & Qt.ShiftModifier)
                                input.insert(input.cursorPosition, "\n")
                            else
                                composer.submit()
                        }
                    }
                }

                QuietButton {
                    objectName: "stopButton"
                    Layout.alignment: Qt.AlignBottom
                    visible: ChatController.generating
                    text: qsTr("Stop")
                    onClicked: ChatController.stop()
                    Accessible.name: qsTr("Stop the answer")
                }

                PrimaryButton {
                    objectName: "sendButton"
                    Layout.alignment: Qt.AlignBottom
                    visible: !ChatController.generating
                    enabled: (input.text.trim().length > 0 || ChatController.attachments.count > 0)
                             && !ChatController.attachments.preparing
                    text: qsTr("Send")
                    onClicked: composer.submit()
                    Accessible.name: qsTr("Send message")
                }
            }
        }
    }

    FileDialog {
        id: attachDialog
        objectName: "attachDialog"
        title: qsTr("Attach files")
        fileMode: FileDialog.OpenFiles
        nameFilters: [qsTr("Images, PDFs, videos and audio (*.png *.jpg *.jpeg *.webp *.bmp *.gif *.tif *.tiff *.pdf *.mp4 *.mkv *.webm *.mov *.avi *.wav *.mp3 *.flac *.ogg *.opus *.m4a)"),
                      qsTr("All files (*)")]
        currentFolder: StandardPaths.writableLocation(StandardPaths.PicturesLocation)
        onAccepted: ChatController.attachUrls(selectedFiles)
    }

    Popup {
        id: cameraPopup
        objectName: "cameraPopup"
        parent: Overlay.overlay
        anchors.centerIn: parent
        width: 560
        height: 440
        modal: true
        onOpened: ChatController.camera.start(preview)
        onClosed: ChatController.camera.stop()
        ColumnLayout {
            anchors.fill: parent
            VideoOutput {
                id: preview
                Layout.fillWidth: true
                Layout.fillHeight: true
            }
            RowLayout {
                Layout.alignment: Qt.AlignRight
                QuietButton {
                    text: qsTr("Close")
                    onClicked: cameraPopup.close()
                }
                PrimaryButton {
                    text: qsTr("Take picture")
                    onClicked: if (ChatController.camera.snap()) cameraPopup.close()
                }
            }
        }
    }
}
