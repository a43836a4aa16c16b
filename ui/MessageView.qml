// The open conversation's messages, oldest at the top. A model message shows its reasoning
// folded (with how long it took), the answer as it streams, why it ended early, and its stats.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import Ocelle.App

ListView {
    id: messageList
    objectName: "messageList"
    clip: true
    spacing: 12
    topMargin: 16
    bottomMargin: 16
    model: ChatController.messages
    Accessible.role: Accessible.List
    Accessible.name: qsTr("Messages")
    ScrollBar.vertical: ScrollBar {}

    // Follow the stream only while the user is at the bottom; reading further up is never disturbed.
    property bool stickToBottom: true
    onMovementEnded: stickToBottom = atYEnd
    onContentHeightChanged: if (stickToBottom) positionViewAtEnd()
    onCountChanged: if (stickToBottom) positionViewAtEnd()

    delegate: Item {
        id: row
        required property int index
        required property string text
        required property bool isUser
        required property string reasoning
        required property double reasoningSeconds
        required property bool streaming
        required property string statsText
        required property string note
        property bool reasoningOpen: false
        readonly property bool isLast: index === messageList.count - 1

        width: ListView.view.width
        implicitHeight: bubble.implicitHeight

        Rectangle {
            id: bubble
            anchors.right: row.isUser ? parent.right : undefined
            anchors.left: row.isUser ? undefined : parent.left
            anchors.leftMargin: 24
            anchors.rightMargin: 24
            width: row.isUser ? Math.min(Math.ceil(messageText.implicitWidth) + 32, row.width * 0.75) : row.width * 0.8
            implicitHeight: content.implicitHeight + 20
            radius: 12
            color: row.isUser ? Theme.userBubble : "transparent"

            ColumnLayout {
                id: content
                anchors.left: parent.left
                anchors.right: parent.right
                anchors.top: parent.top
                anchors.margins: 10
                anchors.leftMargin: 14
                anchors.rightMargin: 14
                spacing: 6

                // Reasoning: one line folded, the full text when opened.
                Label {
                    objectName: "reasoningToggle"
                    visible: row.reasoning.length > 0
                    text: (row.reasoningOpen ? "\u25be " : "\u25b8 ")
                          + (row.reasoningSeconds >= 0 ? qsTr("Thought for %1 s").arg(row.reasoningSeconds.toFixed(1))
                                                       : qsTr("Thinking\u2026"))
                    color: Theme.mutedText
                    font.italic: true
                    Accessible.role: Accessible.Button
                    Accessible.name: row.reasoningOpen ? qsTr("Hide reasoning") : qsTr("Show reasoning")
                    TapHandler { onTapped: row.reasoningOpen = !row.reasoningOpen }
                    HoverHandler { cursorShape: Qt.PointingHandCursor }
                }
                Label {
                    objectName: "reasoningText"
                    Layout.fillWidth: true
                    visible: row.reasoningOpen && row.reasoning.length > 0
                    text: row.reasoning
                    textFormat: Text.PlainText
                    wrapMode: Text.Wrap
                    color: Theme.mutedText
                    leftPadding: 10
                }

                Label {
                    id: messageText
                    Layout.fillWidth: true
                    visible: text.length > 0 || !row.streaming
                    text: row.text
                    textFormat: Text.PlainText
                    wrapMode: Text.Wrap
                    color: Theme.text
                    Accessible.name: (row.isUser ? qsTr("You: ") : qsTr("Gemma: ")) + row.text
                }

                BusyIndicator {
                    visible: row.streaming && row.text.length === 0 && row.reasoning.length === 0
                    running: visible
                    Layout.preferredWidth: 24
                    Layout.preferredHeight: 24
                }

                Label {
                    objectName: "messageNote"
                    visible: row.note.length > 0
                    text: row.note
                    color: Theme.error
                    wrapMode: Text.Wrap
                    Layout.fillWidth: true
                }

                RowLayout {
                    visible: !row.isUser && !row.streaming
                    spacing: 12
                    Label {
                        objectName: "messageStats"
                        text: row.statsText
                        color: Theme.mutedText
                        font.pixelSize: 12
                        Accessible.name: qsTr("Statistics: %1").arg(text)
                    }
                    QuietButton {
                        objectName: "regenerateButton"
                        visible: row.isLast && ChatController.canRegenerate
                        outlined: false
                        text: qsTr("Regenerate")
                        onClicked: ChatController.regenerate()
                        Accessible.name: qsTr("Regenerate the answer")
                    }
                }
            }
        }
    }
}
