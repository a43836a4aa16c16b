// Shown while the microphone records: a live level meter, the time against the 30-second limit,
// and Stop (keeps the recording as an attachment) / Cancel.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import Ocelle.App

Rectangle {
    id: bar
    objectName: "recordingBar"
    readonly property var recorder: ChatController.recorder
    implicitHeight: 44
    radius: 10
    color: Theme.surface
    border.color: Theme.error
    Accessible.role: Accessible.Indicator
    Accessible.name: qsTr("Recording, %1 of %2 seconds").arg(Math.floor(recorder.seconds)).arg(recorder.maxSeconds)

    function clock(seconds) {
        const s = Math.floor(seconds)
        return Math.floor(s / 60) + ":" + (s % 60 < 10 ? "0" : "") + (s % 60)
    }

    RowLayout {
        anchors.fill: parent
        anchors.leftMargin: 12
        anchors.rightMargin: 6
        spacing: 10

        Rectangle {
            width: 12
            height: 12
            radius: 6
            color: Theme.error
            SequentialAnimation on opacity {
                running: bar.visible
                loops: Animation.Infinite
                NumberAnimation { to: 0.3; duration: 600 }
                NumberAnimation { to: 1.0; duration: 600 }
            }
        }
        Label {
            objectName: "recordingTime"
            text: bar.clock(bar.recorder.seconds) + " / " + bar.clock(bar.recorder.maxSeconds)
            font.family: "monospace"
            color: Theme.text
        }
        // The level: a bar for the loudness with a tick for the recent peak; the time runs along
        // a thin line below it towards the limit.
        Item {
            objectName: "levelMeter"
            Layout.fillWidth: true
            Layout.preferredHeight: 20
            Rectangle {
                anchors.fill: parent
                radius: 4
                color: Theme.background
                border.color: Theme.border
            }
            Rectangle {
                objectName: "levelFill"
                x: 1
                y: 1
                height: parent.height - 2
                width: Math.max(0, (parent.width - 2) * bar.recorder.level)
                radius: 3
                color: bar.recorder.level > 0.9 ? Theme.error : Theme.accent
            }
            Rectangle {
                x: Math.max(1, (parent.width - 3) * bar.recorder.peak)
                y: 1
                width: 2
                height: parent.height - 2
                color: Theme.text
                opacity: 0.6
            }
            Rectangle {
                anchors.top: parent.bottom
                anchors.topMargin: 2
                height: 2
                width: parent.width * Math.min(1, bar.recorder.seconds / bar.recorder.maxSeconds)
                color: Theme.mutedText
            }
        }
        QuietButton {
            objectName: "cancelRecording"
            text: qsTr("Cancel")
            onClicked: bar.recorder.cancel()
            Accessible.name: qsTr("Cancel the recording")
        }
        PrimaryButton {
            objectName: "stopRecording"
            text: qsTr("Done")
            onClicked: bar.recorder.stop()
            Accessible.name: qsTr("Stop recording and attach it")
        }
    }
}
