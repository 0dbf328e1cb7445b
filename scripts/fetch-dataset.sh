#!/usr/bin/env bash
# Installs the accuracy benchmark's image set: the photo stamps of Tux Paint
# (Debian package tuxpaint-stamps-default, GPL-2, ~160 MB download), real cut-out photos
# sorted into folders by subject. Idempotent: does nothing when the package is installed.
# Prints the folder the benchmark reads.
set -euo pipefail
PKG=tuxpaint-stamps-default
DIR=/usr/share/tuxpaint/stamps

if dpkg-query -W -f='${Status}' "$PKG" 2>/dev/null | grep -q "install ok installed" && [ -d "$DIR" ]; then
  echo "$DIR"
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
# A fresh machine may have no package lists yet; an apt-get update is cheap next to the download.
if ! apt-cache show "$PKG" >/dev/null 2>&1; then $SUDO apt-get update -qq; fi
$SUDO apt-get install -y -qq --no-install-recommends "$PKG" >&2
echo "$DIR"
