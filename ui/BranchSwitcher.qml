// "< 2/3 >" under a message that has siblings (an edited question, a regenerated answer): moves
// between the branches; none is ever lost.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import Ocelle.App

RowLayout {
    id: switcher
    objectName: "branchSwitcher"
    required property int row
    required property int branchIndex
    required property int branchCount
    spacing: 2
    visible: branchCount > 1
    Accessible.role: Accessible.Grouping
    Accessible.name: qsTr("Version %1 of %2").arg(branchIndex).arg(branchCount)

    component ArrowButton: ToolButton {
        implicitWidth: 26
        implicitHeight: 24
        enabled: !ChatController.generating
        contentItem: Label {
            text: parent.text
            color: parent.enabled ? Theme.text : Theme.mutedText
            horizontalAlignment: Text.AlignHCenter
            verticalAlignment: Text.AlignVCenter
        }
        background: Rectangle {
            radius: 6
            color: parent.hovered ? Theme.selection : "transparent"
        }
    }

    ArrowButton {
        objectName: "previousBranchButton"
        text: "\u2039"
        enabled: !ChatController.generating && switcher.branchIndex > 1
        onClicked: ChatController.switchBranch(switcher.row, -1)
        Accessible.name: qsTr("Previous version")
    }
    Label {
        objectName: "branchLabel"
        text: switcher.branchIndex + "/" + switcher.branchCount
        color: Theme.mutedText
        font.pixelSize: 12
        Accessible.ignored: true
    }
    ArrowButton {
        objectName: "nextBranchButton"
        text: "\u203a"
        enabled: !ChatController.generating && switcher.branchIndex < switcher.branchCount
        onClicked: ChatController.switchBranch(switcher.row, +1)
        Accessible.name: qsTr("Next version")
    }
}
