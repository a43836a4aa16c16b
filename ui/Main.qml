// The main window: conversations on the left, the chat on the right, the composer below it.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import QtQuick.Dialogs
import QtCore
import Ocelle.App

ApplicationWindow {
    id: window
    objectName: "mainWindow"
    width: 1120
    height: 720
    minimumWidth: 760
    minimumHeight: 480
    visible: true
    title: ChatController.currentTitle.length > 0 ? ChatController.currentTitle + " \u2014 Ocelle" : "Ocelle"
    color: Theme.background

    // Controls take their colors from the palette, so the theme reaches every control through it.
    palette.window: Theme.background
    palette.windowText: Theme.text
    palette.base: Theme.background
    palette.alternateBase: Theme.surface
    palette.text: Theme.text
    palette.button: Theme.surface
    palette.buttonText: Theme.text
    // Styles draw highlighted text on mixes of `light` and `highlight` (list rows, text selection),
    // so the highlight stays a pale tint that the normal text color reads well on, in both schemes.
    palette.highlight: Theme.selection
    palette.highlightedText: Theme.text
    palette.dark: Theme.accent
    palette.brightText: Theme.accentText
    palette.mid: Theme.border
    palette.midlight: Theme.selection
    palette.light: Theme.background
    palette.shadow: Theme.border
    palette.placeholderText: Theme.mutedText
    palette.toolTipBase: Theme.surface
    palette.toolTipText: Theme.text
    // Disabled controls (e.g. Send with an empty message) must not look like primary actions.
    palette.disabled.dark: Theme.border
    palette.disabled.brightText: Theme.mutedText
    palette.disabled.buttonText: Theme.mutedText

    // Files dropped onto the window that are not models (images, documents, audio, video): the
    // composer's attachments take them.
    signal filesDropped(var urls)
    onFilesDropped: urls => ChatController.attachUrls(urls)

    function openModelDialog() {
        modelDialog.open()
    }
    function openModelList() {
        modelLibrary.open()
    }

    property bool settingsOpen: false
    function openSettings() {
        settingsOpen = true
    }
    function focusComposer() {
        settingsOpen = false
        composer.focusInput()
    }

    // Settings the rest of the app follows.
    Binding { target: Theme; property: "mode"; value: AppSettings.themeMode }
    Binding { target: Theme; property: "fontSize"; value: AppSettings.fontSize }
    Binding { target: ModelController; property: "deviceChoice"; value: AppSettings.device }
    Binding { target: ModelController; property: "requestedContextLength"; value: AppSettings.contextSize }

    Component.onCompleted: Desktop.restoreWindow(window)
    onClosing: Desktop.saveWindow(window)

    // Every shortcut is an action in the menu bar, so the menus list them.
    Action {
        id: newChatAction
        text: qsTr("&New chat")
        shortcut: StandardKey.New
        onTriggered: { window.settingsOpen = false; ChatController.newChat(); composer.focusInput() }
    }
    Action {
        id: openModelAction
        text: qsTr("&Open model…")
        shortcut: StandardKey.Open
        onTriggered: window.openModelDialog()
    }
    Action {
        id: modelsAction
        text: qsTr("&Models…")
        shortcut: "Ctrl+M"
        onTriggered: window.openModelList()
    }
    Action {
        id: settingsAction
        objectName: "settingsAction"
        text: qsTr("&Settings…")
        shortcut: "Ctrl+,"
        onTriggered: window.settingsOpen ? window.focusComposer() : window.openSettings()
    }
    Action {
        id: quitAction
        text: qsTr("&Quit")
        shortcut: StandardKey.Quit
        onTriggered: window.close()
    }
    Action {
        id: searchAction
        text: qsTr("&Search conversations")
        shortcut: StandardKey.Find
        onTriggered: { window.settingsOpen = false; sidebar.focusSearch() }
    }
    Action {
        id: focusComposerAction
        text: qsTr("&Write a message")
        shortcut: "Ctrl+L"
        onTriggered: window.focusComposer()
    }
    Action {
        id: stopAction
        text: qsTr("S&top the answer")
        shortcut: "Esc"
        enabled: ChatController.generating || window.settingsOpen
        onTriggered: window.settingsOpen ? window.focusComposer() : ChatController.stop()
    }
    Action {
        id: regenerateAction
        text: qsTr("&Regenerate the answer")
        shortcut: "Ctrl+R"
        enabled: ChatController.canRegenerate
        onTriggered: ChatController.regenerate()
    }

    Action {
        id: aboutAction
        objectName: "aboutAction"
        text: qsTr("&About Ocelle")
        onTriggered: aboutDialog.open()
    }

    menuBar: MenuBar {
        objectName: "menuBar"
        Accessible.name: qsTr("Menu bar")
        Menu {
            title: qsTr("&File")
            MenuItem { action: newChatAction }
            MenuItem { action: openModelAction }
            MenuItem { action: modelsAction }
            MenuSeparator {}
            MenuItem { action: settingsAction }
            MenuSeparator {}
            MenuItem { action: quitAction }
        }
        Menu {
            title: qsTr("&Chat")
            MenuItem { action: searchAction }
            MenuItem { action: focusComposerAction }
            MenuItem { action: stopAction }
            MenuItem { action: regenerateAction }
        }
        Menu {
            objectName: "helpMenu"
            title: qsTr("&Help")
            MenuItem { action: aboutAction }
        }
        delegate: MenuBarItem {
            id: menuBarItem
            contentItem: Label {
                text: menuBarItem.text.replace("&", "")
                color: Theme.text
            }
            background: Rectangle { color: menuBarItem.highlighted ? Theme.selection : Theme.sidebar }
        }
        background: Rectangle { color: Theme.sidebar }
    }

    // A finished answer is told to screen readers once, not token by token.
    Item {
        id: announcer
        objectName: "answerAnnouncer"
        property string message
        Accessible.role: Accessible.AlertMessage
        Accessible.name: message
    }
    Connections {
        target: ChatController
        function onAnswerFinished(text) {
            announcer.message = qsTr("Gemma answered: %1").arg(text)
            Desktop.announce(announcer)
        }
    }

    RowLayout {
        anchors.fill: parent
        spacing: 0

        Sidebar {
            id: sidebar
            Layout.fillHeight: true
            Layout.preferredWidth: 264
        }

        Rectangle {
            Layout.fillHeight: true
            Layout.preferredWidth: 1
            color: Theme.border
        }

        SettingsPage {
            Layout.fillWidth: true
            Layout.fillHeight: true
            visible: window.settingsOpen
            onCloseRequested: window.focusComposer()
        }

        ColumnLayout {
            Layout.fillWidth: true
            Layout.fillHeight: true
            visible: !window.settingsOpen
            spacing: 0

            ChatHeader {
                Layout.fillWidth: true
                onOpenModelRequested: window.openModelDialog()
                onModelListRequested: window.openModelList()
            }

            Item {
                Layout.fillWidth: true
                Layout.fillHeight: true

                MessageView {
                    anchors.fill: parent
                    visible: ChatController.messages.count > 0
                }
                EmptyState {
                    anchors.fill: parent
                    visible: ChatController.messages.count === 0
                    onOpenModelRequested: window.openModelDialog()
                    onModelListRequested: window.openModelList()
                }
            }

            // The context meter: how much of the model's context this conversation takes.
            RowLayout {
                objectName: "contextMeter"
                Layout.fillWidth: true
                Layout.leftMargin: 24
                Layout.rightMargin: 24
                visible: ChatController.contextSize > 0
                spacing: 8
                // The local server's status line, while it serves.
                Label {
                    objectName: "serverStatusLine"
                    Layout.fillWidth: true
                    visible: LocalServer.running
                    text: LocalServer.statusText
                    elide: Text.ElideRight
                    color: Theme.mutedText
                    font.pixelSize: 12
                    Accessible.name: text
                }
                Item { Layout.fillWidth: true; visible: !LocalServer.running }
                ProgressBar {
                    Layout.preferredWidth: 120
                    from: 0
                    to: ChatController.contextSize
                    value: ChatController.contextUsed
                    Accessible.name: qsTr("Context used")
                }
                Label {
                    objectName: "contextText"
                    text: qsTr("Context: %1").arg(ChatController.contextText)
                    color: ChatController.contextUsed > ChatController.contextSize * 0.9 ? Theme.error : Theme.mutedText
                    font.pixelSize: 12
                    Accessible.name: text
                }
            }

            Composer {
                id: composer
                Layout.fillWidth: true
            }
        }
    }

    // A dropped .gguf opens as the model; everything else goes to filesDropped.
    DropArea {
        id: dropArea
        objectName: "windowDropArea"
        anchors.fill: parent
        keys: ["text/uri-list"]
        onDropped: (drop) => {
            if (!drop.hasUrls) return
            let others = []
            let model = null
            for (let i = 0; i < drop.urls.length; ++i) {
                const url = drop.urls[i].toString()
                if (url.toLowerCase().endsWith(".gguf")) {
                    if (model === null) model = drop.urls[i]
                } else {
                    others.push(drop.urls[i])
                }
            }
            if (model !== null) ModelController.openModelFile(model)
            if (others.length > 0) window.filesDropped(others)
            drop.accept(Qt.CopyAction)
        }
    }

    ModelLibrary {
        id: modelLibrary
        onOpenFileRequested: window.openModelDialog()
    }

    AboutDialog {
        id: aboutDialog
    }

    FileDialog {
        id: modelDialog
        objectName: "modelDialog"
        title: qsTr("Open a Gemma 4 model")
        fileMode: FileDialog.OpenFile
        nameFilters: [qsTr("Gemma 4 models (*.gguf)")]
        // Models are usually downloaded somewhere under home, not next to wherever Ocelle started.
        currentFolder: StandardPaths.writableLocation(StandardPaths.HomeLocation)
        onAccepted: ModelController.openModelFile(selectedFile)
    }
}
