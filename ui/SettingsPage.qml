// Settings: what the model is told and how it samples, the context and what happens when it is
// full, image budgets, the device, appearance, and where Ocelle keeps its data. Every control
// writes AppSettings at once (QSettings); generation reads them for the next answer.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import Ocelle.App

Rectangle {
    id: page
    objectName: "settingsPage"
    color: Theme.background
    signal closeRequested()
    Accessible.role: Accessible.Pane
    Accessible.name: qsTr("Settings")


    component SectionTitle: Label {
        Layout.topMargin: 18
        font.pixelSize: Theme.fontSize + 3
        font.weight: Font.DemiBold
        color: Theme.text
        Accessible.role: Accessible.Heading
        Accessible.name: text
    }
    component Hint: Label {
        Layout.fillWidth: true
        wrapMode: Text.Wrap
        color: Theme.mutedText
        font.pixelSize: Theme.fontSize - 1
    }
    // A labelled slider with its value.
    component SliderRow: RowLayout {
        id: sliderRow
        property alias label: rowLabel.text
        property alias from: slider.from
        property alias to: slider.to
        property alias stepSize: slider.stepSize
        property real value
        property int decimals: 2
        signal moved(real value)
        Layout.fillWidth: true
        Label { id: rowLabel; Layout.preferredWidth: 170; color: Theme.text }
        Slider {
            id: slider
            Layout.fillWidth: true
            value: sliderRow.value
            snapMode: Slider.SnapAlways
            onMoved: sliderRow.moved(value)
            Accessible.name: rowLabel.text
        }
        Label {
            Layout.preferredWidth: 48
            text: sliderRow.value.toFixed(sliderRow.decimals)
            color: Theme.text
            horizontalAlignment: Text.AlignRight
        }
    }

    ColumnLayout {
        id: headerBar
        anchors.left: parent.left
        anchors.right: parent.right
        spacing: 0
        RowLayout {
            Layout.fillWidth: true
            Layout.margins: 12
            Layout.leftMargin: 24
            Label {
                Layout.fillWidth: true
                text: qsTr("Settings")
                font.pixelSize: 18
                font.weight: Font.DemiBold
                color: Theme.text
                Accessible.role: Accessible.Heading
                Accessible.name: text
            }
            PrimaryButton {
                objectName: "settingsDoneButton"
                text: qsTr("Done")
                onClicked: page.closeRequested()
                Accessible.name: qsTr("Close settings")
            }
        }
        Rectangle { Layout.fillWidth: true; implicitHeight: 1; color: Theme.border }
    }

    ScrollView {
        id: scroll
        anchors.top: headerBar.bottom
        anchors.bottom: parent.bottom
        anchors.left: parent.left
        anchors.right: parent.right
        contentWidth: availableWidth
        clip: true

        ColumnLayout {
            width: Math.min(scroll.availableWidth - 48, 760)
            x: 24
            spacing: 8

            SectionTitle { text: qsTr("Instructions") }
            Label { text: qsTr("System prompt"); color: Theme.text }
            TextArea {
                id: systemPromptField
                objectName: "systemPromptField"
                Layout.fillWidth: true
                Layout.preferredHeight: Math.max(80, implicitHeight)
                wrapMode: TextEdit.Wrap
                placeholderText: qsTr("Optional: how the model should answer (\u201cAnswer briefly.\u201d)")
                background: Rectangle {
                    radius: 8
                    color: Theme.surface
                    border.color: systemPromptField.activeFocus ? Theme.accent : Theme.border
                }
                text: AppSettings.systemPrompt
                onTextChanged: if (text !== AppSettings.systemPrompt) AppSettings.systemPrompt = text
                Accessible.name: qsTr("System prompt")
            }
            RowLayout {
                Layout.fillWidth: true
                ComboBox {
                    id: presetBox
                    objectName: "presetBox"
                    Layout.preferredWidth: 220
                    model: AppSettings.presetNames
                    displayText: count > 0 ? currentText : qsTr("No saved presets")
                    enabled: count > 0
                    Accessible.name: qsTr("Saved system prompts")
                }
                QuietButton {
                    text: qsTr("Use")
                    enabled: presetBox.count > 0
                    onClicked: AppSettings.applyPreset(presetBox.currentText)
                    Accessible.name: qsTr("Use the selected preset")
                }
                QuietButton {
                    text: qsTr("Delete")
                    enabled: presetBox.count > 0
                    onClicked: AppSettings.removePreset(presetBox.currentText)
                    Accessible.name: qsTr("Delete the selected preset")
                }
                TextField {
                    id: presetName
                    objectName: "presetName"
                    Layout.fillWidth: true
                    placeholderText: qsTr("Preset name")
                    Accessible.name: qsTr("Name for a new preset")
                }
                QuietButton {
                    text: qsTr("Save as preset")
                    enabled: presetName.text.trim().length > 0
                    onClicked: if (AppSettings.savePreset(presetName.text)) presetName.clear()
                    Accessible.name: qsTr("Save the system prompt as a preset")
                }
            }
            Switch {
                objectName: "thinkingSwitch"
                text: qsTr("Let the model think before it answers (reasoning is shown folded)")
                checked: AppSettings.thinking
                onToggled: AppSettings.thinking = checked
                Accessible.name: qsTr("Thinking")
            }

            SectionTitle { text: qsTr("Sampling") }
            Hint { text: qsTr("Gemma 4's defaults are temperature 1.0, top-k 64 and top-p 0.95.") }
            SliderRow {
                label: qsTr("Temperature"); from: 0; to: 2; stepSize: 0.05
                value: AppSettings.temperature
                onMoved: v => AppSettings.temperature = v
            }
            RowLayout {
                Label { text: qsTr("Top-k"); Layout.preferredWidth: 170; color: Theme.text }
                SpinBox {
                    from: 0; to: 1000; editable: true
                    value: AppSettings.topK
                    onValueModified: AppSettings.topK = value
                    Accessible.name: qsTr("Top-k")
                }
                Hint { text: qsTr("0 turns it off") }
            }
            SliderRow {
                label: qsTr("Top-p"); from: 0.05; to: 1; stepSize: 0.01
                value: AppSettings.topP
                onMoved: v => AppSettings.topP = v
            }
            SliderRow {
                label: qsTr("Min-p"); from: 0; to: 0.5; stepSize: 0.01
                value: AppSettings.minP
                onMoved: v => AppSettings.minP = v
            }
            SliderRow {
                label: qsTr("Repetition penalty"); from: 1; to: 2; stepSize: 0.05
                value: AppSettings.repetitionPenalty
                onMoved: v => AppSettings.repetitionPenalty = v
            }
            RowLayout {
                Label { text: qsTr("Seed"); Layout.preferredWidth: 170; color: Theme.text }
                CheckBox {
                    id: randomSeed
                    text: qsTr("Random for every answer")
                    checked: AppSettings.seed < 0
                    onToggled: AppSettings.seed = checked ? -1 : 0
                    Accessible.name: qsTr("Random seed")
                }
                SpinBox {
                    from: 0; to: 2147483647; editable: true
                    enabled: !randomSeed.checked
                    value: Math.max(0, AppSettings.seed)
                    onValueModified: AppSettings.seed = value
                    Accessible.name: qsTr("Seed")
                }
            }
            RowLayout {
                Label { text: qsTr("Longest answer"); Layout.preferredWidth: 170; color: Theme.text }
                SpinBox {
                    from: 0; to: 131072; stepSize: 256; editable: true
                    value: AppSettings.maxTokens
                    onValueModified: AppSettings.maxTokens = value
                    Accessible.name: qsTr("Maximum answer tokens")
                }
                Hint { text: qsTr("tokens (0: until the context is full)") }
            }
            QuietButton {
                objectName: "resetSamplingButton"
                text: qsTr("Reset to Gemma 4's defaults")
                enabled: !AppSettings.samplingIsDefault
                onClicked: AppSettings.resetSampling()
                Accessible.name: text
            }

            SectionTitle { text: qsTr("Context") }
            RowLayout {
                Label { text: qsTr("Context size"); Layout.preferredWidth: 170; color: Theme.text }
                ComboBox {
                    id: contextBox
                    readonly property var sizes: [2048, 4096, 8192, 16384, 32768, 65536, 131072]
                    model: sizes.map(n => qsTr("%1 tokens").arg(n.toLocaleString(Qt.locale(), 'f', 0)))
                    currentIndex: Math.max(0, sizes.indexOf(AppSettings.contextSize))
                    onActivated: index => AppSettings.contextSize = sizes[index]
                    Accessible.name: qsTr("Context size")
                }
            }
            Hint {
                text: ModelController.remote
                      ? qsTr("Applies to models on this computer; a server uses the context it was started with.")
                      : ModelController.modelLoaded && ModelController.contextLength !== AppSettings.contextSize
                      ? qsTr("The loaded model uses %1 tokens; the new size applies when a model is next loaded.")
                            .arg(ModelController.contextLength)
                      : qsTr("Applies when a model is loaded. Larger contexts take more memory.")
            }
            Label { text: qsTr("When a conversation fills the context"); color: Theme.text }
            RadioButton {
                objectName: "stopWhenFullOption"
                text: qsTr("Stop and say so (start a new chat to continue)")
                checked: AppSettings.contextPolicy === AppSettings.StopWhenFull
                onToggled: if (checked) AppSettings.contextPolicy = AppSettings.StopWhenFull
            }
            RadioButton {
                objectName: "dropOldestOption"
                text: qsTr("Leave out the oldest messages (the answer says how many)")
                checked: AppSettings.contextPolicy === AppSettings.DropOldestTurns
                onToggled: if (checked) AppSettings.contextPolicy = AppSettings.DropOldestTurns
            }

            SectionTitle { text: qsTr("Images") }
            Repeater {
                model: [
                    { label: qsTr("Image detail"), key: "imageTokenBudget" },
                    { label: qsTr("Document page detail"), key: "documentTokenBudget" }
                ]
                delegate: RowLayout {
                    required property var modelData
                    readonly property var budgets: [70, 140, 280, 560, 1120]
                    Label { text: modelData.label; Layout.preferredWidth: 170; color: Theme.text }
                    ComboBox {
                        model: parent.budgets.map(n => qsTr("%1 tokens").arg(n))
                        currentIndex: Math.max(0, parent.budgets.indexOf(AppSettings[modelData.key]))
                        onActivated: index => AppSettings[modelData.key] = parent.budgets[index]
                        Accessible.name: modelData.label
                    }
                }
            }
            Hint { text: qsTr("More tokens per image read finer detail but take more context (defaults: 280, documents 1120).") }

            SectionTitle { text: qsTr("Device") }
            RowLayout {
                Label { text: qsTr("Run models on"); Layout.preferredWidth: 170; color: Theme.text }
                ComboBox {
                    id: deviceBox
                    objectName: "deviceBox"
                    Layout.fillWidth: true
                    // The one device list (ModelListModel probes it off the GUI thread).
                    model: ModelController.devices.filter(d => d.usable)
                    textRole: "name"
                    valueRole: "choice"
                    currentIndex: indexOfValue(AppSettings.device)
                    onActivated: AppSettings.device = currentValue
                    Accessible.name: qsTr("Device")
                }
            }
            Hint {
                objectName: "deviceInUse"
                text: ModelController.modelLoaded
                      ? qsTr("In use: %1. %2").arg(ModelController.device).arg(ModelController.deviceReason)
                      : qsTr("No model is loaded. A new choice applies when a model is next loaded.")
                color: ModelController.cpuFallback ? Theme.error : Theme.mutedText
            }

            SectionTitle { text: qsTr("Appearance") }
            RowLayout {
                Label { text: qsTr("Theme"); Layout.preferredWidth: 170; color: Theme.text }
                ComboBox {
                    objectName: "themeBox"
                    model: [qsTr("Follow the system"), qsTr("Light"), qsTr("Dark")]
                    currentIndex: AppSettings.themeMode
                    onActivated: index => AppSettings.themeMode = index
                    Accessible.name: qsTr("Theme")
                }
            }
            RowLayout {
                Label { text: qsTr("Text size"); Layout.preferredWidth: 170; color: Theme.text }
                SpinBox {
                    from: 10; to: 24
                    value: AppSettings.fontSize
                    onValueModified: AppSettings.fontSize = value
                    Accessible.name: qsTr("Text size in pixels")
                }
            }

            SectionTitle { text: qsTr("Where data lives") }
            GridLayout {
                columns: 2
                columnSpacing: 12
                Layout.fillWidth: true
                Label { text: qsTr("Conversations"); color: Theme.text }
                Label { Layout.fillWidth: true; text: AppSettings.dataLocation; color: Theme.mutedText; wrapMode: Text.WrapAnywhere }
                Label { text: qsTr("Models folder"); color: Theme.text }
                Label { Layout.fillWidth: true; text: ModelController.library.folder; color: Theme.mutedText; wrapMode: Text.WrapAnywhere }
                Label { text: qsTr("Settings file"); color: Theme.text }
                Label { Layout.fillWidth: true; text: AppSettings.settingsLocation; color: Theme.mutedText; wrapMode: Text.WrapAnywhere }
            }
            SectionTitle { text: qsTr("Local server") }
            Hint {
                text: qsTr("Lets other programs use the loaded model through OpenAI's chat-completions API "
                           + "(GET /v1/models, POST /v1/chat/completions). Off by default; it runs while a model "
                           + "is loaded.")
            }
            Switch {
                objectName: "serverSwitch"
                text: qsTr("Serve the loaded model")
                checked: LocalServer.enabled
                onToggled: LocalServer.enabled = checked
                Accessible.name: qsTr("Local server")
            }
            RowLayout {
                Label { text: qsTr("Address"); Layout.preferredWidth: 170; color: Theme.text }
                TextField {
                    objectName: "serverHost"
                    Layout.preferredWidth: 200
                    text: LocalServer.host
                    onEditingFinished: LocalServer.host = text
                    Accessible.name: qsTr("Server address")
                }
                Label { text: qsTr("Port"); color: Theme.text }
                SpinBox {
                    objectName: "serverPort"
                    from: 1; to: 65535
                    editable: true
                    value: LocalServer.port
                    textFromValue: (value, locale) => value.toString()
                    valueFromText: (text, locale) => parseInt(text)
                    onValueModified: LocalServer.port = value
                    Accessible.name: qsTr("Server port")
                }
            }
            RowLayout {
                Label { text: qsTr("API key"); Layout.preferredWidth: 170; color: Theme.text }
                TextField {
                    objectName: "serverKey"
                    Layout.fillWidth: true
                    echoMode: TextInput.PasswordEchoOnEdit
                    placeholderText: qsTr("None: any program on this computer may use it")
                    text: LocalServer.apiKey
                    onEditingFinished: LocalServer.apiKey = text
                    Accessible.name: qsTr("API key clients must send as a Bearer token")
                }
            }
            Hint {
                objectName: "serverWarning"
                visible: text.length > 0
                text: LocalServer.warning
                color: Theme.error
            }
            Hint { objectName: "serverStatus"; text: LocalServer.statusText }

            Item { implicitHeight: 24 }
        }
    }
}
