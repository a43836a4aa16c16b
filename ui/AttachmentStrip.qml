// The composer's attachments before sending: a card per file with its thumbnail (a video: the
// strip of sampled frames with their times, and how many frames to take; a PDF: its pages), what
// it is and how many prompt tokens it will take (and, for a PDF, which pages do not fit), and a
// button to remove it.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import Ocelle.App

ListView {
    id: strip
    objectName: "attachmentStrip"
    orientation: ListView.Horizontal
    spacing: 8
    clip: true
    implicitHeight: 150
    model: ChatController.attachments
    Accessible.role: Accessible.List
    Accessible.name: qsTr("Attachments")

    delegate: Rectangle {
        id: card
        objectName: "attachmentCard"
        required property int index
        required property string kindName
        required property string name
        required property string thumbnail
        required property string detail
        required property var frames
        required property int frameCount
        required property bool preparing
        required property string note
        readonly property bool hasStrip: kindName === "video" || kindName === "pdf"
        // A video's or PDF's card is as wide as its strip (scrolling when the window is narrower).
        width: hasStrip ? Math.min(strip.width - 8, Math.max(kindName === "pdf" ? 300 : 380, frames.length * 84 + 16)) : 240
        height: strip.height
        radius: 10
        color: Theme.surface
        border.color: Theme.border
        Accessible.role: Accessible.ListItem
        Accessible.name: name + ", " + detail + (note.length > 0 ? ". " + note : "")
        ToolTip.visible: note.length > 0 && cardHover.hovered
        ToolTip.text: note
        HoverHandler { id: cardHover }

        ColumnLayout {
            anchors.fill: parent
            anchors.margins: 8
            spacing: 4

            Item {
                Layout.fillWidth: true
                Layout.fillHeight: true

                Image {
                    objectName: "attachmentThumbnail"
                    anchors.fill: parent
                    visible: card.kindName === "image"
                    source: card.thumbnail
                    fillMode: Image.PreserveAspectFit
                    asynchronous: true
                }
                ListView {
                    objectName: card.kindName === "pdf" ? "pdfPageStrip" : "videoFrameStrip"
                    anchors.fill: parent
                    visible: card.hasStrip
                    orientation: ListView.Horizontal
                    spacing: 4
                    clip: true
                    model: card.frames
                    delegate: Column {
                        required property var modelData
                        spacing: 2
                        Image {
                            height: 60
                            width: 80
                            source: modelData.thumbnail
                            fillMode: Image.PreserveAspectFit
                            asynchronous: true
                        }
                        Label {
                            width: 80
                            horizontalAlignment: Text.AlignHCenter
                            text: modelData.timestamp
                            font.pixelSize: 11
                            color: Theme.mutedText
                        }
                    }
                }
                Label {
                    anchors.centerIn: parent
                    visible: card.kindName === "audio"
                    text: "\u266B"
                    font.pixelSize: 40
                    color: Theme.accent
                }
                BusyIndicator {
                    anchors.centerIn: parent
                    running: card.preparing
                    visible: card.preparing
                }
            }

            RowLayout {
                Layout.fillWidth: true
                spacing: 4
                ColumnLayout {
                    Layout.fillWidth: true
                    spacing: 0
                    Label {
                        Layout.fillWidth: true
                        text: card.name
                        elide: Text.ElideMiddle
                        font.pixelSize: 12
                        color: Theme.text
                    }
                    Label {
                        objectName: "attachmentDetail"
                        Layout.fillWidth: true
                        text: card.detail
                        elide: Text.ElideRight
                        font.pixelSize: 11
                        color: Theme.mutedText
                    }
                    Label {
                        objectName: "attachmentNote"
                        Layout.fillWidth: true
                        visible: card.note.length > 0
                        text: card.note
                        elide: Text.ElideRight
                        font.pixelSize: 11
                        color: Theme.accent
                        font.italic: true
                    }
                }
                SpinBox {
                    objectName: "videoFrameCount"
                    visible: card.kindName === "video"
                    from: 1
                    to: 64
                    value: card.frameCount
                    editable: true
                    implicitWidth: 110
                    onValueModified: ChatController.attachments.setVideoFrames(card.index, value)
                    Accessible.name: qsTr("Frames to sample")
                    ToolTip.visible: hovered
                    ToolTip.text: qsTr("How many frames of the video the model sees")
                }
                ToolButton {
                    objectName: "removeAttachment"
                    text: "\u2715"
                    onClicked: ChatController.attachments.remove(card.index)
                    Accessible.name: qsTr("Remove %1").arg(card.name)
                    ToolTip.visible: hovered
                    ToolTip.text: qsTr("Remove")
                }
            }
        }
    }
}
