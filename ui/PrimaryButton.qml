// The window's main action buttons (Open model…, Send), drawn in the theme's accent color.
import QtQuick
import QtQuick.Controls
import Ocelle.App

Button {
    id: control
    leftPadding: 18
    rightPadding: 18
    topPadding: 9
    bottomPadding: 9

    background: Rectangle {
        implicitWidth: 72
        implicitHeight: 38
        radius: 8
        color: !control.enabled ? Theme.border
             : control.down ? Qt.darker(Theme.accent, 1.2)
             : control.hovered ? Qt.lighter(Theme.accent, 1.1)
             : Theme.accent
    }
    contentItem: Label {
        text: control.text
        font: control.font
        color: control.enabled ? Theme.accentText : Theme.mutedText
        horizontalAlignment: Text.AlignHCenter
        verticalAlignment: Text.AlignVCenter
        elide: Text.ElideRight
    }
}
