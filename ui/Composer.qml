// Where messages are written: Enter sends, Shift+Enter starts a new line.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import Ocelle.App

Rectangle {
    id: composer
    objectName: "composer"
    color: Theme.background
    implicitHeight: column.implicitHeight + 28

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
            text: ChatController.notice
            wrapMode: Text.Wrap
            color: Theme.error
            Accessible.role: Accessible.AlertMessage
            Accessible.name: text
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
                    onClicked: ChatController.requestAttachment()
                    Accessible.name: qsTr("Attach a file")
                    Accessible.description: qsTr("Add an image, document, video or audio file")
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
                    enabled: input.text.trim().length > 0
                    text: qsTr("Send")
                    onClicked: composer.submit()
                    Accessible.name: qsTr("Send message")
                }
            }
        }
    }
}
