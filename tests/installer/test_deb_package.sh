#!/usr/bin/env bash
# The Debian package, end to end on this machine: cpack makes ocelle_<version>_amd64.deb from the
# existing build tree, `apt-get install ./ocelle_*.deb` installs it, the installed ocelle-cli and
# ocelle run (the app under Xvfb, screenshot kept), the running app loads nothing its Depends do not
# cover (nor ocelle-cli's libraries), and `apt-get purge` leaves no file behind in the system folders.
# Needs root (it installs a package); without it the test is skipped (exit 77).
# Usage: test_deb_package.sh BUILD_DIR VERSION FIXTURE_MODEL OUTPUT_DIR
set -euo pipefail
build=$1 version=$2 model=$3 output=$4
here=$(cd "$(dirname "$0")" && pwd)
source "$here/package_test_support.sh"

if [ "$(id -u)" -ne 0 ]; then
  echo "SKIP: installing and purging the .deb needs root; run this test as root to check the package"
  exit 77
fi
if dpkg-query -W -f='${db:Status-Status}' ocelle 2>/dev/null | grep -qv '^not-installed$'; then
  fail "a package named ocelle is already on this machine ($(dpkg-query -W -f='${Version} ${db:Status-Status}' ocelle)); \
this test installs and purges its own, so remove that one first: apt-get purge ocelle"
fi

work=$(mktemp -d /tmp/ocelle-deb-test.XXXXXX)
# (waiting at most 2 minutes for dpkg's lock, well inside the test's CTest timeout, so that the trap
# below still runs: a test killed by CTest cannot clean up)
apt_options=(-y -q -o DPkg::Lock::Timeout=120)
# Files in the system folders a desktop package and its triggers write to (apt's and dpkg's own
# bookkeeping aside); the package's own files, wherever they are, are checked with dpkg -L.
snapshot() {
  local share=/usr/share
  find /usr/bin /usr/sbin /usr/local /etc /opt /var/lib /usr/lib/x86_64-linux-gnu/qt6 \
    $share/applications $share/icons $share/metainfo $share/mime $share/man $share/doc $share/pixmaps \
    -xdev \( -type f -o -type l \) -not -path '/var/lib/dpkg/*' -not -path '/var/lib/apt/*' 2>/dev/null | sort
}
# The packages apt says it installs besides ocelle (from its "NEW packages" list in the install log:
# comparing package lists before and after would also catch what another helper installed meanwhile).
pulled_in_by_install() {
  [ -f "$work/install.log" ] || return 0
  awk '/^The following NEW packages will be installed:/ {list = 1; next}
       list && /^ / {for (i = 1; i <= NF; i++) print $i; next}
       {list = 0}' "$work/install.log" | sed 's/:.*//' | grep -vx ocelle || true
}

# Whatever happens below, the machine ends as it was: the package and anything apt pulled in for it
# are purged, and the scratch folder goes.
cleanup() {
  local status=$?
  if dpkg-query -W -f='${db:Status-Status}' ocelle 2>/dev/null | grep -qv '^not-installed$'; then
    echo "cleanup: purging ocelle"
    DEBIAN_FRONTEND=noninteractive apt-get purge "${apt_options[@]}" ocelle >"$work/cleanup-purge.log" 2>&1 ||
      { echo "cleanup: apt-get purge ocelle failed:"; cat "$work/cleanup-purge.log"; status=1; }
  fi
  local pulled_in
  pulled_in=$(pulled_in_by_install)
  if [ -n "$pulled_in" ]; then
    echo "cleanup: purging what the install pulled in: $pulled_in"
    # shellcheck disable=SC2086 # one word per package
    DEBIAN_FRONTEND=noninteractive apt-get purge "${apt_options[@]}" $pulled_in >/dev/null 2>&1 ||
      { echo "cleanup: could not purge $pulled_in"; status=1; }
  fi
  rm -rf "$work"
  exit $status
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# 1. The package, from the build tree as it is (cpack installs the built files; no second build).
cpack --config "$build/CPackConfig.cmake" -G DEB -B "$work/package" >"$work/cpack.log" 2>&1 ||
  fail "cpack failed: $(cat "$work/cpack.log")"
deb="$work/package/ocelle_${version}_amd64.deb"
[ -f "$deb" ] || fail "cpack did not write $deb: $(ls "$work/package")"
depends=$(dpkg-deb -f "$deb" Depends)
for needed in libqt6quick6 libqt6qml6 libavformat59 qml6-module-qtquick-controls libvulkan1; do
  grep -qE "(^|, )$needed( |,|$)" <<<"$depends" || fail "Depends does not name $needed: $depends"
done
echo "[$(date +%T)] ok: built $(basename "$deb"); Depends: $depends"

# 2. Install it as a user would (Recommends left out: this test checks what Depends alone brings).
echo "[$(date +%T)] snapshot of the system folders"
dpkg_log_start=$(($(stat -c %s /var/log/dpkg.log 2>/dev/null || echo 0) + 1))
snapshot >"$work/files-before.txt"
DEBIAN_FRONTEND=noninteractive apt-get install "${apt_options[@]}" --no-install-recommends "$deb" \
  >"$work/install.log" 2>&1 || fail "apt-get install $deb failed: $(cat "$work/install.log")"
dpkg -L ocelle >"$work/package-files.txt"
pulled_in=$(pulled_in_by_install | tr '\n' ' ')
echo "[$(date +%T)] ok: installed ($(wc -l <"$work/package-files.txt") paths; other packages it pulled in: ${pulled_in:-none})"

# 3. The installed programs, found on PATH, from a folder that has nothing of Ocelle in it.
cd "$work"
[ "$(command -v ocelle)" = /usr/bin/ocelle ] || fail "ocelle is not on PATH as /usr/bin/ocelle: $(command -v ocelle)"
[ "$(command -v ocelle-cli)" = /usr/bin/ocelle-cli ] || fail "ocelle-cli is not on PATH as /usr/bin/ocelle-cli"
check_cli /usr/bin "$version" "$model"
man -w ocelle-cli | grep -qx /usr/share/man/man1/ocelle-cli.1.gz || fail "man does not find ocelle-cli(1)"
man_page=$(MANWIDTH=80 man ocelle-cli 2>/dev/null) || fail "man ocelle-cli failed"
grep -q "ocelle-cli info PATH" <<<"$man_page" || fail "the man page lacks the info command's usage"
desktop-file-validate /usr/share/applications/org.ocelle.Ocelle.desktop || fail "the installed .desktop file is not valid"
appstreamcli validate --no-net /usr/share/metainfo/org.ocelle.Ocelle.metainfo.xml >"$work/appstream.log" ||
  fail "the installed AppStream metadata is not valid: $(cat "$work/appstream.log")"
# dpkg's shared-mime-info trigger compiled our type into the MIME database.
[ -f /usr/share/mime/application/x-gguf.xml ] || fail "the MIME database has no application/x-gguf after installing"
# and desktop-file-utils' trigger made Ocelle an application for it (what file managers offer).
grep -q '^application/x-gguf=.*org\.ocelle\.Ocelle\.desktop' /usr/share/applications/mimeinfo.cache ||
  fail "/usr/share/applications/mimeinfo.cache does not offer Ocelle for application/x-gguf"
echo "[$(date +%T)] ok: on PATH, man page, desktop file, AppStream metadata and the GGUF MIME type are installed"
screenshot_app /usr/bin/ocelle "$output/installed-deb-app.png" "$work/app-maps.txt" "$work/app" "$model"
python3 "$here/check_runtime_depends.py" ocelle "$work/app-maps.txt"
ldd /usr/bin/ocelle-cli >"$work/cli-libraries.txt"
python3 "$here/check_runtime_depends.py" ocelle "$work/cli-libraries.txt"

# 4. Purge, and nothing of it may be left.
DEBIAN_FRONTEND=noninteractive apt-get purge "${apt_options[@]}" ocelle >"$work/purge.log" 2>&1 ||
  fail "apt-get purge ocelle failed: $(cat "$work/purge.log")"
if [ -n "$pulled_in" ]; then
  # shellcheck disable=SC2086 # one word per package
  DEBIAN_FRONTEND=noninteractive apt-get purge "${apt_options[@]}" $pulled_in >/dev/null 2>&1 ||
    fail "could not purge what the install pulled in: $pulled_in"
  rm "$work/install.log" # purged: nothing left for the cleanup to do
fi
left=()
while read -r path; do
  # Folders are shared with other packages; any file or link left is ours.
  if [ ! -d "$path" ] && { [ -e "$path" ] || [ -L "$path" ]; }; then left+=("$path"); fi
done <"$work/package-files.txt"
[ ${#left[@]} -eq 0 ] || fail "files of the package are still there after purging: ${left[*]}"
[ ! -e /usr/share/mime/application/x-gguf.xml ] || fail "the MIME database still has application/x-gguf after purging"
if grep -q 'org\.ocelle\.Ocelle' /usr/share/applications/mimeinfo.cache 2>/dev/null; then
  fail "/usr/share/applications/mimeinfo.cache still names Ocelle after purging"
fi
# Any other new file must belong to a package someone else installed meanwhile (helpers share this machine).
snapshot | comm -13 "$work/files-before.txt" - >"$work/files-new.txt"
strays=()
while read -r path; do
  if ! dpkg -S "$path" >/dev/null 2>&1 && ! dpkg -S "${path#/usr}" >/dev/null 2>&1; then strays+=("$path"); fi
done <"$work/files-new.txt"
# Packages someone else installed or removed meanwhile (dpkg's log since the first snapshot): their
# maintainer scripts may leave files of their own, which are reported but are not ours.
others=$(tail -c +"$dpkg_log_start" /var/log/dpkg.log 2>/dev/null |
  awk '$3 == "install" || $3 == "remove" || $3 == "purge" {sub(/:.*/, "", $4); print $4}' |
  grep -vxF -e ocelle ${pulled_in:+$(printf -- ' -e %s' $pulled_in)} | sort -u | tr '\n' ' ' || true)
if [ ${#strays[@]} -gt 0 ] && [ -n "$others" ]; then
  echo "note: new files that belong to no package (${strays[*]}) appeared while dpkg also handled: $others; not counted"
elif [ ${#strays[@]} -gt 0 ]; then
  fail "new files that belong to no package are left in the system folders: ${strays[*]}"
fi
echo "[$(date +%T)] ok: purged; none of the package's $(wc -l <"$work/package-files.txt") paths and no other stray file is left"
