# CPack: the Debian package (ocelle_<version>_amd64.deb) and the relocatable tarball
# (ocelle-<version>-linux-x86_64.tar.gz), both made from the install rules of the configured tree:
#   cpack --config build/release/CPackConfig.cmake -B <output folder> [-G DEB|TGZ]
# installer/README.md explains both and the plan for Windows and macOS.
set(CPACK_PACKAGE_NAME ocelle)
set(CPACK_PACKAGE_VENDOR "Ocelle")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Chat with Google's Gemma 4 models on your own computer")
set(CPACK_PACKAGE_DESCRIPTION "Ocelle runs Gemma 4 language models (GGUF files) locally on its own \
engine, on the CPU or a Vulkan GPU: a Qt Quick desktop app (ocelle) and a command-line tool (ocelle-cli).")
set(CPACK_PACKAGE_CONTACT "Ocelle developers")
set(CPACK_RESOURCE_FILE_README ${PROJECT_SOURCE_DIR}/README.md)
set(CPACK_STRIP_FILES ON)
set(CPACK_GENERATOR DEB TGZ)
set(CPACK_SOURCE_GENERATOR "")

# Tarball: bin/ and share/ under one top folder. Our QML modules and resources are compiled into
# the executable, and neither binary has an RPATH, so it runs from wherever it is unpacked; Qt,
# FFmpeg, OpenCV and the Vulkan loader come from the system (the same packages as the .deb's).
set(CPACK_PACKAGE_FILE_NAME "ocelle-${PROJECT_VERSION}-linux-${CMAKE_SYSTEM_PROCESSOR}")

# Debian: Depends has two parts. dpkg-shlibdeps (SHLIBDEPS) reads the binaries' NEEDED libraries:
# Qt Core/Gui/Qml/Quick/Sql, FFmpeg, OpenCV, libstdc++... What it cannot see is loaded at run time:
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(OCELLE_DEBIAN_RUNTIME_DEPENDS
    # the QML modules Ocelle's views import (ui/*.qml), and the ones those load in turn
    qml6-module-qtquick qml6-module-qtquick-controls qml6-module-qtquick-templates
    qml6-module-qtquick-layouts qml6-module-qtquick-window qml6-module-qtquick-dialogs
    qml6-module-qt-labs-folderlistmodel qml6-module-qtqml-workerscript qml6-module-qtqml-models
    qml6-module-qtcore qml6-module-qtmultimedia
    # Qt plugins: the SQLite driver of the conversation store and the SVG icon (the X11 platform
    # plugin comes with libqt6gui6 and the multimedia backend with libqt6multimedia6, which
    # shlibdeps finds)
    libqt6sql6-sqlite libqt6svg6
    # Qt's X11 plugin opens libXcursor with dlopen for the mouse pointer's themed cursors (found
    # by tests/installer/check_runtime_depends.py in the running app's memory map)
    libxcursor1
    # the Vulkan loader, opened with dlopen (inference/vulkan/vk_api.cpp) so that the app still
    # starts, on the CPU, where there is none
    libvulkan1)
list(JOIN OCELLE_DEBIAN_RUNTIME_DEPENDS ", " CPACK_DEBIAN_PACKAGE_DEPENDS)
# Recommended, not required (apt installs them unless told not to):
# - a Vulkan driver (ICD): Mesa's for AMD/Intel GPUs and the lavapipe CPU device, or the GPU
#   vendor's (nvidia-vulkan-icd provides vulkan-icd); without one Ocelle runs on the CPU;
# - Qt's Wayland platform plugin; without it Qt draws through XWayland.
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "mesa-vulkan-drivers | vulkan-icd, qt6-wayland")

include(CPack)
