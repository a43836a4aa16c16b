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

    Shortcut {
        sequence: StandardKey.Open
        onActivated: window.openModelDialog()
    }
    Shortcut {
        sequence: "Ctrl+M"
        onActivated: window.openModelList()
    }
    Shortcut {
        sequence: "Esc"
        enabled: ChatController.generating
        onActivated: ChatController.stop()
    }
    Shortcut {
        sequence: StandardKey.New
        onActivated: ChatController.newChat()
    }
    Shortcut {
        sequence: StandardKey.Find
        onActivated: sidebar.focusSearch()
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

        ColumnLayout {
            Layout.fillWidth: true
            Layout.fillHeight: true
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

            Composer {
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
