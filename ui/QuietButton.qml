// Secondary buttons (New chat, Attach, the header's Open model…): outlined, never competing with
// the accent-colored main action.
import QtQuick
import QtQuick.Controls
import Ocelle.App

Button {
    id: control
    property bool outlined: true
    leftPadding: 14
    rightPadding: 14
    topPadding: 8
    bottomPadding: 8

    background: Rectangle {
        implicitWidth: 64
        implicitHeight: 36
        radius: 8
        color: control.down ? Theme.selection : control.hovered ? Theme.surface : "transparent"
        border.width: control.outlined ? 1 : 0
        border.color: Theme.border
    }
    contentItem: Label {
        text: control.text
        font: control.font
        color: control.enabled ? Theme.text : Theme.mutedText
        horizontalAlignment: Text.AlignHCenter
        verticalAlignment: Text.AlignVCenter
        elide: Text.ElideRight
    }
}
