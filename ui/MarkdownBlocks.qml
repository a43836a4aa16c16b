// A model answer as Markdown blocks (ChatController's MarkdownBlockModel for the message): text
// blocks as rich text, code blocks as CodeBlock. While the answer streams only the last block
// changes, so finished blocks keep their items and are not laid out again.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import Ocelle.App

ColumnLayout {
    id: blocksView
    required property var blocks
    // While streaming the text changes every frame: screen readers hear the answer once, when done.
    property bool streaming: false
    spacing: 8

    Repeater {
        model: blocksView.blocks
        delegate: Loader {
            id: block
            required property string kind
            required property string source
            required property string language
            required property string lightHtml
            required property string darkHtml
            readonly property string html: Theme.dark ? darkHtml : lightHtml
            Layout.fillWidth: true
            sourceComponent: kind === "code" ? codeComponent : textComponent

            Component {
                id: codeComponent
                CodeBlock {
                    source: block.source
                    language: block.language
                    html: block.html
                }
            }
            Component {
                id: textComponent
                TextEdit {
                    objectName: "markdownText"
                    readOnly: true
                    selectByMouse: true
                    activeFocusOnPress: false
                    textFormat: TextEdit.RichText
                    wrapMode: TextEdit.Wrap
                    text: block.html
                    color: Theme.text
                    font.pixelSize: Theme.fontSize
                    selectionColor: Theme.selection
                    selectedTextColor: Theme.text
                    onLinkActivated: link => Qt.openUrlExternally(link)
                    Accessible.role: Accessible.StaticText
                    Accessible.readOnly: true
                    Accessible.name: blocksView.streaming ? "" : block.source
                    HoverHandler {
                        cursorShape: parent.hoveredLink.length > 0 ? Qt.PointingHandCursor : Qt.IBeamCursor
                    }
                }
            }
        }
    }
}
