// Which media backends this build of Ocelle carries, as reported by the libraries at run time.
// Shown in the app's diagnostics line and used to decide which attachment types can be offered.
#pragma once

#include <string>
#include <vector>

namespace ocelle::media {

struct Capabilities {
    std::string opencvVersion;      // e.g. "4.6.0" (images)
    std::string libavformatVersion; // e.g. "59.27.100" (containers: video, audio)
    std::string libavcodecVersion;
    // Image file types OpenCV has a codec for here, as extensions without the dot ("png", "jpg", ...).
    std::vector<std::string> imageFormats;
    // Number of container formats libavformat can demux (its build decides; 0 means no video/audio).
    int demuxerCount = 0;
    bool canDemux(const std::string& shortName) const;

    // One line for humans: "OpenCV 4.6.0 (png, jpg, webp), libavformat 59.27.100 (312 demuxers)".
    std::string summary() const;
};

// Queries the linked libraries (cheap; no files are touched).
Capabilities capabilities();

} // namespace ocelle::media
