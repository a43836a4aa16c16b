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

    // Follow the stream only while the user is at the bottom: scrolling up (wheel, drag, scroll
    // bar, keys) stops following, scrolling back to the end resumes it.
    property bool following: true
    property bool autoScrolling: false
    function followEnd() {
        if (!following)
            return
        autoScrolling = true
        positionViewAtEnd()
        autoScrolling = false
    }
    // Within a few pixels of the end counts as at the end (delegate heights settle after a jump).
    function nearEnd() {
        return contentY + height >= originY + contentHeight + topMargin + bottomMargin - 32
    }
    onContentYChanged: if (!autoScrolling) following = nearEnd()
    onAtYEndChanged: if (atYEnd) following = true
    onContentHeightChanged: followEnd()
    onHeightChanged: followEnd()
    onCountChanged: followEnd()

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
        required property int branchIndex
        required property int branchCount
        required property var blocks
        required property var attachments
        property bool reasoningOpen: false
        property bool editing: false
        readonly property bool isLast: index === messageList.count - 1

        width: ListView.view.width
        implicitHeight: bubble.implicitHeight

        Rectangle {
            id: bubble
            anchors.right: row.isUser ? parent.right : undefined
            anchors.left: row.isUser ? undefined : parent.left
            anchors.leftMargin: 24
            anchors.rightMargin: 24
            width: row.isUser ? (row.editing ? row.width * 0.75
                                             : Math.min(Math.max(Math.ceil(messageText.implicitWidth), userActions.implicitWidth, sentMedia.implicitWidth) + 32,
                                                        row.width * 0.75))
                              : row.width * 0.8
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

                // What the user sent along: thumbnails (images, a video's first frame) and names.
                Row {
                    id: sentMedia
                    objectName: "sentAttachments"
                    visible: row.attachments.length > 0
                    spacing: 8
                    Repeater {
                        model: row.attachments
                        Column {
                            required property var modelData
                            spacing: 2
                            Image {
                                objectName: "sentThumbnail"
                                visible: modelData.thumbnail.length > 0
                                source: modelData.thumbnail
                                height: 72
                                fillMode: Image.PreserveAspectFit
                                asynchronous: true
                            }
                            Label {
                                text: (modelData.kind === "audio" ? "\u266B " : "") + modelData.name
                                font.pixelSize: 11
                                color: Theme.mutedText
                                elide: Text.ElideMiddle
                                width: Math.min(implicitWidth, 200)
                            }
                        }
                    }
                }

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
                    objectName: "userText"
                    Layout.fillWidth: true
                    visible: row.isUser && !row.editing
                    text: row.isUser ? row.text : ""
                    textFormat: Text.PlainText
                    wrapMode: Text.Wrap
                    color: Theme.text
                    font.pixelSize: Theme.fontSize
                    Accessible.name: qsTr("You: ") + row.text
                }

                MarkdownBlocks {
                    objectName: "answerBlocks"
                    Layout.fillWidth: true
                    visible: !row.isUser
                    blocks: row.blocks
                    streaming: row.streaming
                }

                // Editing a question: the edit is sent as a new branch; the original stays.
                ColumnLayout {
                    visible: row.editing
                    Layout.fillWidth: true
                    Layout.minimumWidth: Math.min(420, row.width * 0.6)
                    TextArea {
                        id: editInput
                        objectName: "editInput"
                        Layout.fillWidth: true
                        wrapMode: TextEdit.Wrap
                        color: Theme.text
                        selectByMouse: true
                        Accessible.name: qsTr("Edit your message")
                        Keys.onEscapePressed: row.editing = false
                        background: Rectangle {
                            radius: 8
                            color: Theme.background
                            border.color: Theme.accent
                        }
                    }
                    RowLayout {
                        Layout.alignment: Qt.AlignRight
                        QuietButton {
                            objectName: "cancelEditButton"
                            text: qsTr("Cancel")
                            onClicked: row.editing = false
                        }
                        PrimaryButton {
                            objectName: "saveEditButton"
                            text: qsTr("Send")
                            enabled: editInput.text.trim().length > 0 && !ChatController.generating
                            onClicked: {
                                if (ChatController.editMessage(row.index, editInput.text))
                                    row.editing = false
                            }
                            Accessible.name: qsTr("Send the edited message")
                        }
                    }
                }

                RowLayout {
                    id: userActions
                    visible: row.isUser && !row.editing
                    Layout.alignment: Qt.AlignRight
                    spacing: 6
                    BranchSwitcher {
                        row: row.index
                        branchIndex: row.branchIndex
                        branchCount: row.branchCount
                    }
                    QuietButton {
                        objectName: "editButton"
                        outlined: false
                        enabled: !ChatController.generating
                        text: qsTr("Edit")
                        font.pixelSize: 12
                        topPadding: 2
                        bottomPadding: 2
                        onClicked: {
                            editInput.text = row.text
                            row.editing = true
                            editInput.forceActiveFocus()
                        }
                        Accessible.name: qsTr("Edit this message")
                    }
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
                    BranchSwitcher {
                        row: row.index
                        branchIndex: row.branchIndex
                        branchCount: row.branchCount
                    }
                    Label {
                        objectName: "messageStats"
                        text: row.statsText
                        color: Theme.mutedText
                        font.pixelSize: 12
                        Accessible.name: qsTr("Statistics: %1").arg(text)
                    }
                    QuietButton {
                        objectName: "copyMessageButton"
                        outlined: false
                        text: copiedTimer.running ? qsTr("Copied") : qsTr("Copy")
                        onClicked: {
                            ChatController.copyText(row.text)
                            copiedTimer.restart()
                        }
                        Accessible.name: qsTr("Copy the answer")
                        Timer { id: copiedTimer; interval: 1500 }
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
