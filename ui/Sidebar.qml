// The conversation sidebar: a new-chat button, the conversations, and the build's diagnostics.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import Ocelle.App

Rectangle {
    id: sidebar
    objectName: "sidebar"
    color: Theme.sidebar

    ColumnLayout {
        anchors.fill: parent
        anchors.margins: 14
        spacing: 10

        Label {
            text: "Ocelle"
            font.pixelSize: 20
            font.weight: Font.DemiBold
            color: Theme.text
            Accessible.ignored: true
        }

        QuietButton {
            objectName: "newChatButton"
            Layout.fillWidth: true
            text: qsTr("New chat")
            onClicked: ChatController.newChat()
            Accessible.name: qsTr("New chat")
            Accessible.description: qsTr("Start a new conversation")
        }

        Label {
            Layout.topMargin: 6
            text: qsTr("Conversations")
            font.pixelSize: 12
            font.weight: Font.DemiBold
            color: Theme.mutedText
            Accessible.ignored: true
        }

        ListView {
            id: conversationList
            objectName: "conversationList"
            Layout.fillWidth: true
            Layout.fillHeight: true
            clip: true
            model: ChatController.conversations
            Accessible.role: Accessible.List
            Accessible.name: qsTr("Conversations")

            delegate: ItemDelegate {
                id: conversationDelegate
                objectName: "conversationDelegate"
                required property int conversationId
                required property string title
                readonly property bool current: conversationId === ChatController.currentConversationId
                width: ListView.view.width
                text: title
                highlighted: current
                onClicked: ChatController.selectConversation(conversationId)
                Accessible.name: title
                Accessible.selected: current

                // Drawn here rather than by the style, whose highlighted colors assume a light palette.
                contentItem: Label {
                    text: conversationDelegate.text
                    color: Theme.text
                    font.weight: conversationDelegate.current ? Font.DemiBold : Font.Normal
                    elide: Text.ElideRight
                    verticalAlignment: Text.AlignVCenter
                }
                background: Rectangle {
                    radius: 8
                    color: conversationDelegate.current ? Theme.selection
                         : conversationDelegate.hovered ? Theme.surface : "transparent"
                }
            }

            Label {
                objectName: "noConversationsLabel"
                anchors.top: parent.top
                anchors.topMargin: 4
                width: parent.width
                visible: conversationList.count === 0
                text: qsTr("No conversations yet.")
                color: Theme.mutedText
                wrapMode: Text.Wrap
            }
        }

        Label {
            objectName: "diagnosticsLabel"
            Layout.fillWidth: true
            text: AppInfo.diagnostics
            font.pixelSize: 10
            color: Theme.mutedText
            wrapMode: Text.Wrap
            Accessible.name: qsTr("Build information: %1").arg(AppInfo.diagnostics)
        }
    }
}
