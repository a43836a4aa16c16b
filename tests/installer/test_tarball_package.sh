#!/usr/bin/env bash
# The relocatable tarball: cpack makes ocelle-<version>-linux-x86_64.tar.gz from the existing build
# tree; unpacked into a fresh temporary folder (moved once after unpacking, to prove no path is
# baked in), its ocelle-cli and ocelle run from there, the app under Xvfb (screenshot kept).
# It relies on the system's Qt, FFmpeg, OpenCV and Vulkan loader (installer/README.md).
# Usage: test_tarball_package.sh BUILD_DIR VERSION FIXTURE_MODEL OUTPUT_DIR
set -euo pipefail
build=$1 version=$2 model=$3 output=$4
here=$(cd "$(dirname "$0")" && pwd)
source "$here/package_test_support.sh"

work=$(mktemp -d /tmp/ocelle-tarball-test.XXXXXX)
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

cpack --config "$build/CPackConfig.cmake" -G TGZ -B "$work/package" >"$work/cpack.log" 2>&1 ||
  fail "cpack failed: $(cat "$work/cpack.log")"
name="ocelle-${version}-linux-$(uname -m)"
tarball="$work/package/$name.tar.gz"
[ -f "$tarball" ] || fail "cpack did not write $tarball: $(ls "$work/package")"
mkdir "$work/unpacked"
tar -xzf "$tarball" -C "$work/unpacked"
mv "$work/unpacked/$name" "$work/moved-elsewhere"
root="$work/moved-elsewhere"
for file in bin/ocelle bin/ocelle-cli share/applications/org.ocelle.Ocelle.desktop \
  share/metainfo/org.ocelle.Ocelle.metainfo.xml share/mime/packages/org.ocelle.Ocelle.xml \
  share/icons/hicolor/scalable/apps/org.ocelle.Ocelle.svg share/icons/hicolor/512x512/apps/org.ocelle.Ocelle.png \
  share/man/man1/ocelle-cli.1.gz; do
  [ -f "$root/$file" ] || fail "the tarball has no $file"
done
# No absolute run path (into the build tree, say): only ones relative to the binary ($ORIGIN).
for binary in "$root/bin/ocelle" "$root/bin/ocelle-cli"; do
  runpath=$(readelf -d "$binary" | sed -n 's/.*(R[UN]*PATH).*\[\(.*\)\]$/\1/p')
  for entry in ${runpath//:/ }; do
    case $entry in \$ORIGIN*) ;; *) fail "$binary has an absolute run path entry: $entry ($runpath)" ;; esac
  done
done
echo "ok: $(basename "$tarball") unpacked and moved to $root"

cd /
check_cli "$root/bin" "$version" "$model"
screenshot_app "$root/bin/ocelle" "$output/tarball-app.png" "$work/app-maps.txt" "$work/app" "$model"
