#!/usr/bin/env bash
# System packages for edge-imprint on Debian/Ubuntu, installed with apt only and only when
# missing (idempotent; sudo when not root). It never starts, stops, disables or
# reconfigures a service: a mosquitto you already run stays as it is.
#
#   bash scripts/install-system-deps.sh          what the agent needs to run: ffmpeg
#   bash scripts/install-system-deps.sh --test   also what the tests need
#
# Note: installing Debian's mosquitto package (--test) may start its own service on port
# 1883. Neither the tests (their brokers use free ports) nor the agent mind: with no
# mqtt.url the agent uses a broker already answering on 127.0.0.1:1883.
set -euo pipefail

runtime=(ffmpeg)
test_only=(
  # A real MQTT broker and its command-line clients.
  mosquitto mosquitto-clients
  # A real RTSP server: GStreamer's, driven from Python (test/helpers/rtsp_server.py).
  python3 python3-gi gir1.2-gst-rtsp-server-1.0
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
  gstreamer1.0-plugins-ugly gstreamer1.0-libav
  # A C compiler for the fake Coral driver (test/fixtures/fakeEdgetpu.c).
  gcc libc6-dev
  # Build tools for npm's native modules (better-sqlite3, tfjs-tflite-node), which `npm ci`
  # compiles where it cannot download their prebuilt binaries, as on CI without internet.
  g++ make
  # A real browser for the dashboard tests, driven by playwright-core (which downloads none).
  chromium
)

case "${1:-}" in
  '') packages=("${runtime[@]}") ;;
  --test) packages=("${runtime[@]}" "${test_only[@]}") ;;
  *)
    echo "usage: bash scripts/install-system-deps.sh [--test]" >&2
    exit 2
    ;;
esac

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "system packages: all present (${packages[*]})"
  exit 0
fi
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
echo "system packages: installing ${missing[*]}"
"${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
