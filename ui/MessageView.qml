// The open conversation's messages, oldest at the top.
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

    delegate: Item {
        id: row
        required property string text
        required property bool isUser
        width: ListView.view.width
        implicitHeight: bubble.implicitHeight

        Rectangle {
            id: bubble
            anchors.right: row.isUser ? parent.right : undefined
            anchors.left: row.isUser ? undefined : parent.left
            anchors.leftMargin: 24
            anchors.rightMargin: 24
            width: Math.min(messageText.implicitWidth + 28, row.width * 0.75)
            implicitHeight: messageText.implicitHeight + 20
            radius: 12
            color: row.isUser ? Theme.userBubble : "transparent"

            Label {
                id: messageText
                anchors.fill: parent
                anchors.margins: 10
                anchors.leftMargin: 14
                anchors.rightMargin: 14
                text: row.text
                textFormat: Text.PlainText
                wrapMode: Text.Wrap
                color: Theme.text
                Accessible.name: (row.isUser ? qsTr("You: ") : qsTr("Gemma: ")) + row.text
            }
        }
    }
}
