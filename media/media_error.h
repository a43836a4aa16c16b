// The one exception type of ocelle::media: every decoding problem (unreadable, corrupt, truncated,
// too large, unsupported) is reported with a message that names the file and the problem, fit to
// show to the user as it is.
#pragma once

#include <stdexcept>
#include <string>

namespace ocelle::media {

class MediaError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

} // namespace ocelle::media
