#!/usr/bin/env bash
# System packages edge-imprint needs on Debian/Ubuntu: ffmpeg to read cameras; and for the
# test suite a real MQTT broker (mosquitto), a real RTSP server (GStreamer's, through
# python3-gi) and a C compiler for the fake Coral driver. Idempotent; run as root or via sudo.
set -euo pipefail
packages=(
  ffmpeg
  mosquitto mosquitto-clients
  python3-gi gir1.2-gst-rtsp-server-1.0
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
  gstreamer1.0-plugins-ugly gstreamer1.0-libav
  gcc libc6-dev make g++ python3
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "system packages: all present"
  exit 0
fi
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
# Debian starts a mosquitto service on port 1883 where an init system runs; the tests
# start their own brokers on free ports and the agent can bring its own, so stop it.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet mosquitto 2>/dev/null; then
  "${sudo_cmd[@]}" systemctl disable --now mosquitto || true
fi
