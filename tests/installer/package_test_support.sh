# Shared by the package tests (sourced): running an installed or unpacked Ocelle and looking at it.
# Every function fails the test (exit 1) with a message saying what went wrong.

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# check_cli BIN_DIR VERSION FIXTURE_MODEL: ocelle-cli's and ocelle's --version and `ocelle-cli info`.
check_cli() {
  local bin=$1 version=$2 model=$3 out
  out=$("$bin/ocelle-cli" --version) || fail "$bin/ocelle-cli --version exited with $?"
  [ "$out" = "ocelle-cli $version" ] || fail "$bin/ocelle-cli --version printed '$out', expected 'ocelle-cli $version'"
  out=$(QT_QPA_PLATFORM=offscreen XDG_RUNTIME_DIR=/nonexistent "$bin/ocelle" --version 2>/dev/null) || fail "$bin/ocelle --version exited with $?"
  [ "$out" = "Ocelle $version" ] || fail "$bin/ocelle --version printed '$out', expected 'Ocelle $version'"
  out=$("$bin/ocelle-cli" info "$model") || fail "$bin/ocelle-cli info $model exited with $?"
  grep -q '^architecture: gemma4$' <<<"$out" || fail "ocelle-cli info did not describe the model:
$out"
  echo "ok: $bin/ocelle-cli --version, $bin/ocelle --version and ocelle-cli info $(basename "$model")"
}

# screenshot_app BIN SCREENSHOT MAPS_OUT SCRATCH MODEL: starts the app under Xvfb (Basic style, its
# own data, settings and instance name in SCRATCH) with MODEL given on its command line, waits for
# its window and for the model to be loaded (the engine has then also looked for Vulkan devices),
# saves a screenshot of the screen and the list of files the running process has mapped (shared
# libraries, QML and Qt plugins, the Vulkan loader and drivers...), then ends it. The screenshot
# must show a rendered window, not an empty screen.
screenshot_app() {
  local app=$1 shot=$2 maps=$3 scratch=$4 model=$5
  mkdir -p "$scratch/home" "$scratch/data" "$scratch/runtime"
  chmod 700 "$scratch/runtime"
  XDG_RUNTIME_DIR="$scratch/runtime" HOME="$scratch/home" XDG_CONFIG_HOME="$scratch/home/.config" XDG_DATA_HOME="$scratch/home/.local/share" \
    XDG_CACHE_HOME="$scratch/home/.cache" OCELLE_DATA_DIR="$scratch/data" \
    OCELLE_INSTANCE="ocelle-package-test-$$" QT_QUICK_CONTROLS_STYLE=Basic \
    timeout 120 xvfb-run --auto-servernum --server-args="-screen 0 1280x800x24" \
    bash -c '
      "$1" "$5" >"$4/app.log" 2>&1 &
      app=$!
      shown=0
      for _ in $(seq 1 120); do
        # (xwininfo may lose the race with a window being replaced: then it is asked again)
        if xwininfo -root -tree 2>/dev/null | grep -q "\"Ocelle\""; then shown=1; break; fi
        kill -0 "$app" 2>/dev/null || { echo "the app ended before showing its window" >&2; exit 1; }
        sleep 0.5
      done
      [ $shown = 1 ] || { echo "no Ocelle window after 60 s" >&2; kill "$app"; exit 1; }
      for _ in $(seq 1 120); do
        grep -q "is loaded" "$4/app.log" && break
        sleep 0.5
      done
      grep -q "is loaded" "$4/app.log" || { echo "the model given on the command line did not load" >&2; kill "$app"; exit 1; }
      sleep 3 # the first frames: the window is mapped before QML has drawn into it
      cp "/proc/$app/maps" "$3"
      import -window root "$2"
      kill "$app"
      wait "$app" || true
    ' _ "$app" "$shot" "$maps" "$scratch" "$model" ||
    fail "the app ($app) did not show its window under Xvfb; its output:
$(cat "$scratch/app.log" 2>/dev/null)"
  local colors
  colors=$(convert "$shot" -format %k info:) || fail "cannot read the screenshot $shot"
  # A drawn window (text, icons, antialiasing) has hundreds of colors; an empty screen has one.
  [ "$colors" -gt 100 ] || fail "the screenshot $shot has only $colors colors: nothing was drawn"
  echo "ok: $app showed its window under Xvfb (screenshot: $shot, $colors colors)"
}
