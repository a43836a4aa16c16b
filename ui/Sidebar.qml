// The conversation sidebar: new chat, search, the conversations grouped by date (pinned first) with
// rename / pin / export / delete on each, undo after a deletion, import, and the build's diagnostics.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import QtQuick.Dialogs
import QtCore
import Ocelle.App

Rectangle {
    id: sidebar
    objectName: "sidebar"
    color: Theme.sidebar

    // The conversation an export dialog is for.
    property int exportingId: -1

    function focusSearch() {
        searchField.forceActiveFocus()
    }

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

        RowLayout {
            Layout.fillWidth: true
            spacing: 6
            QuietButton {
                objectName: "newChatButton"
                Layout.fillWidth: true
                text: qsTr("New chat")
                onClicked: ChatController.newChat()
                Accessible.name: qsTr("New chat")
                Accessible.description: qsTr("Start a new conversation")
            }
            QuietButton {
                objectName: "importButton"
                text: qsTr("Import\u2026")
                onClicked: importDialog.open()
                Accessible.name: qsTr("Import a conversation")
                Accessible.description: qsTr("Open a conversation exported as JSON")
            }
        }

        TextField {
            id: searchField
            objectName: "conversationSearch"
            Layout.fillWidth: true
            placeholderText: qsTr("Search conversations")
            text: ChatController.conversations.searchText
            onTextEdited: ChatController.conversations.searchText = text
            color: Theme.text
            selectByMouse: true
            Accessible.role: Accessible.EditableText
            Accessible.name: qsTr("Search conversations")
            Accessible.description: qsTr("Finds titles and message text")
            background: Rectangle {
                implicitHeight: 34
                radius: 8
                color: Theme.background
                border.width: 1
                border.color: searchField.activeFocus ? Theme.accent : Theme.border
            }
            Keys.onEscapePressed: {
                text = ""
                ChatController.conversations.searchText = ""
            }
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
            ScrollBar.vertical: ScrollBar {}

            section.property: "section"
            section.delegate: Label {
                required property string section
                objectName: "conversationSection"
                width: ListView.view.width
                topPadding: 10
                bottomPadding: 4
                leftPadding: 8
                text: section
                font.pixelSize: 12
                font.weight: Font.DemiBold
                color: Theme.mutedText
                Accessible.role: Accessible.Heading
                Accessible.name: section
            }

            delegate: ItemDelegate {
                id: conversationDelegate
                objectName: "conversationDelegate"
                required property int conversationId
                required property string title
                required property bool pinned
                readonly property bool current: conversationId === ChatController.currentConversationId
                property bool renaming: false
                width: ListView.view.width
                text: title
                highlighted: current
                onClicked: ChatController.selectConversation(conversationId)
                Accessible.name: pinned ? qsTr("%1, pinned").arg(title) : title
                Accessible.selected: current

                function startRename() {
                    renaming = true
                    renameField.text = title
                    renameField.selectAll()
                    renameField.forceActiveFocus()
                }
                function finishRename(accept) {
                    if (!renaming)
                        return
                    renaming = false
                    if (accept)
                        ChatController.renameConversation(conversationId, renameField.text)
                }

                TapHandler {
                    acceptedButtons: Qt.RightButton
                    onTapped: conversationMenu.popup()
                }

                // Drawn here rather than by the style, whose highlighted colors assume a light palette.
                contentItem: RowLayout {
                    spacing: 4
                    Label {
                        objectName: "conversationTitle"
                        Layout.fillWidth: true
                        visible: !conversationDelegate.renaming
                        text: conversationDelegate.text
                        color: Theme.text
                        font.weight: conversationDelegate.current ? Font.DemiBold : Font.Normal
                        elide: Text.ElideRight
                        verticalAlignment: Text.AlignVCenter
                    }
                    TextField {
                        id: renameField
                        objectName: "renameField"
                        Layout.fillWidth: true
                        visible: conversationDelegate.renaming
                        color: Theme.text
                        selectByMouse: true
                        Accessible.name: qsTr("New title")
                        onAccepted: conversationDelegate.finishRename(true)
                        onActiveFocusChanged: if (!activeFocus) conversationDelegate.finishRename(true)
                        Keys.onEscapePressed: conversationDelegate.finishRename(false)
                    }
                    Label {
                        visible: conversationDelegate.pinned && !conversationDelegate.renaming
                        text: "\u2605"
                        color: Theme.mutedText
                        Accessible.ignored: true
                    }
                    ToolButton {
                        objectName: "conversationMenuButton"
                        visible: !conversationDelegate.renaming
                        opacity: conversationDelegate.hovered || conversationDelegate.current || activeFocus ? 1 : 0
                        text: "\u22ef"
                        implicitWidth: 28
                        implicitHeight: 24
                        onClicked: conversationMenu.popup(this, 0, height)
                        Accessible.name: qsTr("More actions for %1").arg(conversationDelegate.title)
                        contentItem: Label {
                            text: "\u22ef"
                            color: Theme.text
                            horizontalAlignment: Text.AlignHCenter
                            verticalAlignment: Text.AlignVCenter
                        }
                        background: Rectangle {
                            radius: 6
                            color: parent.hovered ? Theme.selection : "transparent"
                        }
                    }
                }
                background: Rectangle {
                    radius: 8
                    color: conversationDelegate.current ? Theme.selection
                         : conversationDelegate.hovered ? Theme.surface : "transparent"
                }

                Menu {
                    id: conversationMenu
                    objectName: "conversationMenu"
                    MenuItem {
                        objectName: "renameAction"
                        text: qsTr("Rename")
                        onTriggered: conversationDelegate.startRename()
                    }
                    MenuItem {
                        objectName: "pinAction"
                        text: conversationDelegate.pinned ? qsTr("Unpin") : qsTr("Pin")
                        onTriggered: ChatController.setPinned(conversationDelegate.conversationId,
                                                              !conversationDelegate.pinned)
                    }
                    MenuItem {
                        objectName: "exportMarkdownAction"
                        text: qsTr("Export as Markdown\u2026")
                        onTriggered: sidebar.exportAs(conversationDelegate.conversationId, conversationDelegate.title, "md")
                    }
                    MenuItem {
                        objectName: "exportJsonAction"
                        text: qsTr("Export as JSON\u2026")
                        onTriggered: sidebar.exportAs(conversationDelegate.conversationId, conversationDelegate.title, "json")
                    }
                    MenuSeparator {}
                    MenuItem {
                        objectName: "deleteAction"
                        text: qsTr("Delete")
                        onTriggered: ChatController.deleteConversation(conversationDelegate.conversationId)
                    }
                }
            }

            Label {
                objectName: "noConversationsLabel"
                anchors.top: parent.top
                anchors.topMargin: 4
                width: parent.width
                visible: conversationList.count === 0
                text: ChatController.conversations.searchText.length > 0 ? qsTr("No conversation matches.")
                                                                         : qsTr("No conversations yet.")
                color: Theme.mutedText
                wrapMode: Text.Wrap
            }
        }

        // A problem with the conversation database: stays until dismissed.
        Rectangle {
            objectName: "storageNotice"
            Layout.fillWidth: true
            visible: ChatController.storageNotice.length > 0
            implicitHeight: storageColumn.implicitHeight + 12
            radius: 8
            color: Theme.surface
            border.color: Theme.error
            Accessible.role: Accessible.AlertMessage
            Accessible.name: ChatController.storageNotice
            ColumnLayout {
                id: storageColumn
                anchors.fill: parent
                anchors.margins: 6
                Label {
                    objectName: "storageNoticeText"
                    Layout.fillWidth: true
                    text: ChatController.storageNotice
                    color: Theme.error
                    wrapMode: Text.Wrap
                }
                QuietButton {
                    objectName: "dismissStorageNoticeButton"
                    Layout.alignment: Qt.AlignRight
                    text: qsTr("OK")
                    onClicked: ChatController.dismissStorageNotice()
                    Accessible.name: qsTr("Dismiss the storage message")
                }
            }
        }

        // After a deletion: a way back, for a while.
        Rectangle {
            id: undoBar
            objectName: "undoBar"
            Layout.fillWidth: true
            visible: shown && ChatController.undoableDeletion.length > 0
            property bool shown: false
            implicitHeight: undoRow.implicitHeight + 12
            radius: 8
            color: Theme.surface
            border.color: Theme.border
            Accessible.role: Accessible.AlertMessage
            Accessible.name: undoLabel.text

            Connections {
                target: ChatController
                function onUndoableDeletionChanged() {
                    undoBar.shown = ChatController.undoableDeletion.length > 0
                    if (undoBar.shown)
                        undoTimer.restart()
                }
            }
            Timer {
                id: undoTimer
                interval: 10000
                onTriggered: undoBar.shown = false
            }
            RowLayout {
                id: undoRow
                anchors.fill: parent
                anchors.margins: 6
                Label {
                    id: undoLabel
                    Layout.fillWidth: true
                    text: qsTr("Deleted \u201c%1\u201d").arg(ChatController.undoableDeletion)
                    color: Theme.text
                    elide: Text.ElideRight
                }
                QuietButton {
                    objectName: "undoDeleteButton"
                    text: qsTr("Undo")
                    onClicked: ChatController.undoDelete()
                    Accessible.name: qsTr("Undo the deletion")
                }
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

    function exportAs(id, title, suffix) {
        exportingId = id
        const name = title.replace(/[\\/:*?"<>|]/g, " ").trim() || "conversation"
        exportDialog.selectedFile = StandardPaths.writableLocation(StandardPaths.DocumentsLocation) + "/" + name + "." + suffix
        exportDialog.nameFilters = suffix === "json" ? [qsTr("JSON (*.json)")] : [qsTr("Markdown (*.md)")]
        exportDialog.open()
    }

    FileDialog {
        id: exportDialog
        objectName: "exportDialog"
        title: qsTr("Export the conversation")
        fileMode: FileDialog.SaveFile
        currentFolder: StandardPaths.writableLocation(StandardPaths.DocumentsLocation)
        onAccepted: ChatController.exportConversation(sidebar.exportingId, selectedFile)
    }
    FileDialog {
        id: importDialog
        objectName: "importDialog"
        title: qsTr("Import a conversation")
        fileMode: FileDialog.OpenFile
        nameFilters: [qsTr("Ocelle conversations (*.json)")]
        currentFolder: StandardPaths.writableLocation(StandardPaths.DocumentsLocation)
        onAccepted: ChatController.importConversation(selectedFile)
    }
}
