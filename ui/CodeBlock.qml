// A fenced code block in an answer: the language, a copy button, and the code coloured by the
// C++ highlighter (MarkdownBlockModel's html roles). Long lines scroll sideways instead of wrapping.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import Ocelle.App

Rectangle {
    id: codeBlock
    objectName: "codeBlock"
    required property string source
    required property string language
    required property string html
    property bool copied: false

    implicitHeight: column.implicitHeight
    radius: 8
    color: Theme.codeBackground
    border.color: Theme.border
    border.width: 1
    Accessible.role: Accessible.Grouping
    Accessible.name: language.length > 0 ? qsTr("%1 code").arg(language) : qsTr("Code")

    ColumnLayout {
        id: column
        anchors.left: parent.left
        anchors.right: parent.right
        spacing: 0

        RowLayout {
            Layout.fillWidth: true
            Layout.leftMargin: 12
            Layout.rightMargin: 4
            Label {
                Layout.fillWidth: true
                text: codeBlock.language.length > 0 ? codeBlock.language : qsTr("code")
                color: Theme.mutedText
                font.pixelSize: Theme.fontSize - 2
            }
            QuietButton {
                objectName: "copyCodeButton"
                outlined: false
                topPadding: 4
                bottomPadding: 4
                text: codeBlock.copied ? qsTr("Copied") : qsTr("Copy")
                font.pixelSize: Theme.fontSize - 2
                onClicked: {
                    ChatController.copyText(codeBlock.source)
                    codeBlock.copied = true
                    copiedTimer.restart()
                }
                Accessible.name: qsTr("Copy the code")
                Timer {
                    id: copiedTimer
                    interval: 1500
                    onTriggered: codeBlock.copied = false
                }
            }
        }

        Flickable {
            Layout.fillWidth: true
            Layout.preferredHeight: codeText.implicitHeight + 20
            contentWidth: codeText.implicitWidth + 24
            contentHeight: codeText.implicitHeight
            flickableDirection: Flickable.HorizontalFlick
            boundsBehavior: Flickable.StopAtBounds
            clip: true
            ScrollBar.horizontal: ScrollBar { policy: ScrollBar.AsNeeded }

            TextEdit {
                id: codeText
                objectName: "codeText"
                x: 12
                readOnly: true
                selectByMouse: true
                activeFocusOnPress: false
                textFormat: TextEdit.RichText
                text: codeBlock.html
                font.family: "monospace"
                font.pixelSize: Theme.fontSize - 1
                color: Theme.text
                selectionColor: Theme.selection
                selectedTextColor: Theme.text
                Accessible.role: Accessible.EditableText
                Accessible.readOnly: true
                Accessible.name: codeBlock.source
            }
        }
    }
}
