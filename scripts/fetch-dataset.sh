#!/usr/bin/env bash
# Installs the benchmarks' image sets from Debian packages (never committed):
#   tuxpaint-stamps-default  Tux Paint's photo stamps (GPL-2, ~160 MB): real cut-out photos of
#                            single objects on transparency, sorted into folders by subject.
#   tuxpaint-data            Tux Paint's templates (GPL-2+, photos by Bill Kendrick, ~8 MB):
#                            real photos of scenes (field, lighthouse, rocks, cliff ...).
#   lomiri-wallpapers-16.04  Ubuntu Touch's photo wallpapers (CC-BY-4.0, CC-BY-SA-4.0, CC0;
#                            ~16 MB): a room, a doorstep, meadows, a mountain path ...
# The stamps are the accuracy benchmark's photo set; the field benchmark composites them into
# the scene photos. Idempotent: does nothing when the packages are installed.
# Prints the stamps folder the accuracy benchmark reads.
set -euo pipefail
PKGS=(tuxpaint-stamps-default tuxpaint-data lomiri-wallpapers-16.04)
DIR=/usr/share/tuxpaint/stamps

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ] && [ -d "$DIR" ]; then
  echo "$DIR"
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
# A fresh machine may have no package lists yet; an apt-get update is cheap next to the download.
for p in "${missing[@]}"; do
  if ! apt-cache show "$p" >/dev/null 2>&1; then $SUDO apt-get update -qq; break; fi
done
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
echo "$DIR"
