// The model list: the models folder's GGUF files and the files opened from elsewhere, each with
// what it is, what it accepts and whether it fits the chosen device at the chosen context; then the
// models of the OpenAI-compatible servers the user added, under a header per server.
// Rows and estimates come from ModelController.library (C++); this view only shows and forwards.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import QtQuick.Dialogs
import Ocelle.App

Popup {
    id: library
    objectName: "modelLibrary"
    signal openFileRequested()

    modal: true
    focus: true
    anchors.centerIn: Overlay.overlay
    width: Math.min(parent ? parent.width - 80 : 760, 760)
    height: Math.min(parent ? parent.height - 80 : 560, 600)
    padding: 0
    closePolicy: Popup.CloseOnEscape | Popup.CloseOnPressOutside

    background: Rectangle {
        color: Theme.background
        radius: 12
        border.color: Theme.border
    }

    readonly property var models: ModelController.library

    ColumnLayout {
        anchors.fill: parent
        spacing: 0

        // Title, folder and the ways to add models.
        ColumnLayout {
            Layout.fillWidth: true
            Layout.margins: 20
            Layout.bottomMargin: 12
            spacing: 6

            RowLayout {
                Layout.fillWidth: true
                spacing: 8
                Label {
                    Layout.fillWidth: true
                    text: qsTr("Models")
                    font.pixelSize: 20
                    font.weight: Font.DemiBold
                    color: Theme.text
                    Accessible.role: Accessible.Heading
                }
                QuietButton {
                    objectName: "libraryAddServerButton"
                    text: qsTr("Add a server\u2026")
                    onClicked: addServer.open()
                    Accessible.name: qsTr("Add an OpenAI-compatible server and use its models")
                }
                QuietButton {
                    objectName: "libraryOpenFileButton"
                    text: qsTr("Open file\u2026")
                    onClicked: library.openFileRequested()
                    Accessible.name: qsTr("Open a model file from anywhere")
                }
                QuietButton {
                    objectName: "libraryCloseButton"
                    text: qsTr("Close")
                    onClicked: library.close()
                }
            }

            RowLayout {
                Layout.fillWidth: true
                spacing: 8
                Label {
                    objectName: "libraryFolderLabel"
                    Layout.fillWidth: true
                    elide: Text.ElideMiddle
                    color: Theme.mutedText
                    text: qsTr("Folder: %1").arg(library.models.folder)
                }
                QuietButton {
                    objectName: "libraryChangeFolderButton"
                    text: qsTr("Change folder\u2026")
                    onClicked: folderDialog.open()
                    Accessible.name: qsTr("Choose the models folder")
                }
            }

            Label {
                objectName: "libraryDeviceLabel"
                Layout.fillWidth: true
                wrapMode: Text.Wrap
                color: Theme.mutedText
                text: library.models.deviceSummary
            }
        }

        Rectangle { Layout.fillWidth: true; implicitHeight: 1; color: Theme.border }

        ListView {
            id: list
            objectName: "modelListView"
            Layout.fillWidth: true
            Layout.fillHeight: true
            clip: true
            model: library.models
            spacing: 0
            ScrollBar.vertical: ScrollBar {}
            Accessible.role: Accessible.List
            Accessible.name: qsTr("Models")

            // A header for each server (files have none): its name, address, Refresh and Remove.
            section.property: "serverUrl"
            section.delegate: Item {
                id: serverHeader
                required property string section
                width: ListView.view.width
                implicitHeight: section === "" ? 0 : headerRow.implicitHeight + 16
                visible: section !== ""
                Rectangle { anchors.fill: parent; color: Theme.surface }
                RowLayout {
                    id: headerRow
                    anchors.fill: parent
                    anchors.leftMargin: 20
                    anchors.rightMargin: 20
                    spacing: 8
                    Label {
                        objectName: "serverHeaderName"
                        text: library.models.servers.nameOf(serverHeader.section)
                        font.weight: Font.DemiBold
                        color: Theme.text
                        Accessible.role: Accessible.Heading
                    }
                    Label {
                        Layout.fillWidth: true
                        elide: Text.ElideMiddle
                        text: serverHeader.section
                        font.pixelSize: 12
                        color: Theme.mutedText
                    }
                    QuietButton {
                        objectName: "serverRefreshButton"
                        text: qsTr("Refresh")
                        onClicked: library.models.servers.refresh()
                        Accessible.name: qsTr("Ask the servers for their models again")
                    }
                    QuietButton {
                        objectName: "serverRemoveButton"
                        text: qsTr("Remove")
                        onClicked: library.models.servers.remove(serverHeader.section)
                        Accessible.name: qsTr("Remove the server %1").arg(serverHeader.section)
                    }
                }
            }

            delegate: ItemDelegate {
                id: row
                required property int index
                required property string path
                required property string fileName
                required property string displayName
                required property string variant
                required property string quantization
                required property string fileSizeText
                required property var inputs
                required property bool usable
                required property string problem
                required property bool fits
                required property string memoryText
                required property bool opened
                required property bool current
                required property bool remote
                required property string serverName
                required property string serverUrl
                required property string modelId
                required property bool checking

                function load() {
                    if (remote)
                        ModelController.openRemoteModel(serverUrl, modelId)
                    else
                        ModelController.openModelFile(path)
                }

                width: ListView.view.width
                enabled: true
                hoverEnabled: true
                padding: 0
                Accessible.name: usable ? qsTr("%1, %2, %3").arg(displayName).arg(fileSizeText).arg(memoryText)
                                        : qsTr("%1: %2").arg(fileName).arg(problem)

                background: Rectangle {
                    color: row.current ? Theme.selection : row.hovered ? Theme.surface : "transparent"
                }

                contentItem: RowLayout {
                    spacing: 16

                    ColumnLayout {
                        Layout.fillWidth: true
                        Layout.leftMargin: 20
                        Layout.topMargin: 12
                        Layout.bottomMargin: 12
                        spacing: 4

                        RowLayout {
                            Layout.fillWidth: true
                            spacing: 8
                            Label {
                                Layout.maximumWidth: row.width * 0.5
                                elide: Text.ElideRight
                                text: row.usable ? row.displayName : row.fileName
                                font.weight: Font.DemiBold
                                color: row.usable ? Theme.text : Theme.mutedText
                            }
                            Label {
                                Layout.fillWidth: true
                                visible: row.usable && !row.remote && !row.opened && row.displayName + ".gguf" !== row.fileName
                                elide: Text.ElideMiddle
                                text: row.fileName
                                font.pixelSize: 12
                                color: Theme.mutedText
                            }
                        }

                        Flow {
                            Layout.fillWidth: true
                            spacing: 6
                            visible: row.usable
                            Repeater {
                                model: !row.usable ? []
                                       : row.remote ? [qsTr("Remote"), row.serverName].concat(row.inputs)
                                       : [row.variant === "other" ? qsTr("Gemma 4") : qsTr("Gemma 4 %1").arg(row.variant),
                                          row.quantization, row.fileSizeText].concat(row.inputs)
                                delegate: Rectangle {
                                    required property string modelData
                                    radius: 4
                                    color: Theme.surface
                                    border.color: Theme.border
                                    implicitWidth: chipText.implicitWidth + 12
                                    implicitHeight: chipText.implicitHeight + 4
                                    Label {
                                        id: chipText
                                        anchors.centerIn: parent
                                        text: parent.modelData
                                        font.pixelSize: 12
                                        color: Theme.text
                                    }
                                }
                            }
                        }

                        Label {
                            objectName: "modelRowMemory"
                            Layout.fillWidth: true
                            visible: row.usable
                            wrapMode: Text.Wrap
                            text: row.fits ? row.memoryText : "\u26a0 " + row.memoryText
                            color: row.fits ? Theme.mutedText : Theme.error
                            font.weight: row.fits ? Font.Normal : Font.DemiBold
                        }

                        Label {
                            objectName: "modelRowProblem"
                            Layout.fillWidth: true
                            visible: !row.usable
                            wrapMode: Text.Wrap
                            text: row.problem
                            color: row.checking ? Theme.mutedText : Theme.error
                        }

                        Label {
                            Layout.fillWidth: true
                            visible: row.opened
                            elide: Text.ElideMiddle
                            text: row.path
                            font.pixelSize: 12
                            color: Theme.mutedText
                        }
                    }

                    Label {
                        Layout.rightMargin: 20
                        visible: row.current
                        text: ModelController.busy ? (row.remote ? qsTr("Connecting\u2026") : qsTr("Loading\u2026"))
                                                   : (row.remote ? qsTr("In use") : qsTr("Loaded"))
                        color: Theme.mutedText
                    }

                    PrimaryButton {
                        objectName: "modelRowLoadButton"
                        Layout.rightMargin: 20
                        visible: row.usable && !row.current
                        text: row.remote ? qsTr("Use") : qsTr("Load")
                        onClicked: row.load()
                        Accessible.name: row.remote ? qsTr("Use %1 on %2").arg(row.displayName).arg(row.serverName)
                                                    : qsTr("Load %1").arg(row.displayName)
                    }
                }
                onDoubleClicked: if (usable && !current) load()
            }

            Label {
                objectName: "libraryEmptyLabel"
                anchors.centerIn: parent
                width: parent.width - 80
                horizontalAlignment: Text.AlignHCenter
                wrapMode: Text.Wrap
                visible: list.count === 0
                color: Theme.mutedText
                text: library.models.scanning
                      ? qsTr("Looking for models\u2026")
                      : qsTr("No GGUF files here yet. Put Gemma 4 models (and their mmproj files) into "
                             + "the folder above, open a file from anywhere, or drop one onto the window.")
            }
        }

        Rectangle { Layout.fillWidth: true; implicitHeight: 1; color: Theme.border }

        // What happens with the model now: loading progress and cancel, or the device in use.
        RowLayout {
            Layout.fillWidth: true
            Layout.margins: 16
            Layout.leftMargin: 20
            Layout.rightMargin: 20
            spacing: 12

            ColumnLayout {
                Layout.fillWidth: true
                spacing: 4
                Label {
                    objectName: "libraryStatusLabel"
                    Layout.fillWidth: true
                    wrapMode: Text.Wrap
                    maximumLineCount: 3
                    elide: Text.ElideRight
                    color: ModelController.state === ModelController.Failed ? Theme.error : Theme.text
                    text: ModelController.modelLoaded
                          ? qsTr("%1 runs on %2. %3").arg(ModelController.fileName)
                                .arg(ModelController.device).arg(ModelController.deviceReason)
                          : ModelController.statusText
                }
                ProgressBar {
                    objectName: "libraryLoadProgress"
                    Layout.fillWidth: true
                    visible: ModelController.busy
                    from: 0
                    to: 1
                    value: ModelController.loadProgress
                    Accessible.name: qsTr("Loading the model")
                }
            }
            QuietButton {
                objectName: "libraryCancelButton"
                visible: ModelController.busy || ModelController.modelLoaded
                text: ModelController.busy ? qsTr("Cancel") : qsTr("Unload")
                onClicked: ModelController.busy ? ModelController.cancelLoad() : ModelController.unload()
                Accessible.name: ModelController.busy ? qsTr("Cancel loading the model") : qsTr("Unload the model")
            }
        }
    }

    // "Add a server…": the address (and key) of any OpenAI-compatible server. The server is asked
    // for its models before it is added, so a wrong address or key is said here, at once.
    Popup {
        id: addServer
        objectName: "addServerPopup"
        parent: Overlay.overlay
        anchors.centerIn: parent
        width: Math.min(library.width - 40, 520)
        modal: true
        focus: true
        padding: 20
        closePolicy: Popup.CloseOnEscape
        readonly property var servers: library.models.servers
        onOpened: {
            serverUrlField.forceActiveFocus()
            servers.cancelAdd()
        }
        onClosed: servers.cancelAdd()
        background: Rectangle {
            color: Theme.background
            radius: 12
            border.color: Theme.border
        }
        Connections {
            target: addServer.servers
            function onAdded() {
                serverNameField.text = ""
                serverUrlField.text = ""
                serverKeyField.text = ""
                addServer.close()
            }
        }

        ColumnLayout {
            anchors.fill: parent
            spacing: 8
            Label {
                text: qsTr("Add a server")
                font.pixelSize: 18
                font.weight: Font.DemiBold
                color: Theme.text
                Accessible.role: Accessible.Heading
            }
            Label {
                Layout.fillWidth: true
                wrapMode: Text.Wrap
                color: Theme.mutedText
                text: qsTr("Any server that speaks OpenAI's chat completions: vLLM, llama.cpp's server, Ollama, "
                           + "LM Studio, or ocelle-cli serve on another computer. Its models appear in this list.")
            }
            Label { text: qsTr("Address"); color: Theme.text }
            TextField {
                id: serverUrlField
                objectName: "serverUrlField"
                Layout.fillWidth: true
                placeholderText: "http://192.168.1.20:8080/v1"
                inputMethodHints: Qt.ImhUrlCharactersOnly
                Accessible.name: qsTr("Server address")
                onAccepted: addButton.clicked()
            }
            Label { text: qsTr("Name (optional)"); color: Theme.text }
            TextField {
                id: serverNameField
                objectName: "serverNameField"
                Layout.fillWidth: true
                placeholderText: qsTr("e.g. Workstation")
                Accessible.name: qsTr("Server name")
            }
            Label { text: qsTr("API key (optional)"); color: Theme.text }
            TextField {
                id: serverKeyField
                objectName: "serverKeyField"
                Layout.fillWidth: true
                echoMode: TextInput.Password
                Accessible.name: qsTr("API key")
            }
            Label {
                objectName: "serverKeyNote"
                Layout.fillWidth: true
                wrapMode: Text.Wrap
                font.pixelSize: 12
                color: Theme.mutedText
                text: qsTr("The key is stored in plain text in Ocelle's settings file.")
            }
            Label {
                objectName: "addServerProblem"
                Layout.fillWidth: true
                wrapMode: Text.Wrap
                visible: text !== ""
                color: Theme.error
                text: addServer.servers.adding ? "" : addServer.servers.addProblem
            }
            RowLayout {
                Layout.fillWidth: true
                Layout.topMargin: 8
                spacing: 8
                BusyIndicator {
                    visible: addServer.servers.adding
                    running: visible
                    implicitWidth: 28
                    implicitHeight: 28
                }
                Label {
                    Layout.fillWidth: true
                    visible: addServer.servers.adding
                    color: Theme.mutedText
                    text: qsTr("Asking the server for its models\u2026")
                }
                Item { Layout.fillWidth: true; visible: !addServer.servers.adding }
                QuietButton {
                    objectName: "addServerCancelButton"
                    text: qsTr("Cancel")
                    onClicked: addServer.close()
                }
                PrimaryButton {
                    id: addButton
                    objectName: "addServerButton"
                    text: qsTr("Add")
                    enabled: serverUrlField.text.trim() !== "" && !addServer.servers.adding
                    onClicked: addServer.servers.add(serverNameField.text, serverUrlField.text, serverKeyField.text)
                }
            }
        }
    }

    FolderDialog {
        id: folderDialog
        objectName: "modelFolderDialog"
        title: qsTr("Choose the models folder")
        currentFolder: "file://" + library.models.folder
        onAccepted: library.models.setFolderUrl(selectedFolder)
    }
}
