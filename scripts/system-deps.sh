#!/usr/bin/env bash
# System libraries for Qt/OpenGL under a virtual X server (PITFALLS.md item 5). Debian/Ubuntu.
# Runs apt-get only when something is missing; needs root (or sudo) for that.
set -euo pipefail
PKGS="xvfb xauth libgl1 libegl1 libopengl0 libgl1-mesa-dri libglx-mesa0 libxkbcommon-x11-0
libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render-util0
libxcb-shape0 libxcb-xfixes0 libxcb-xkb1 libxcb-sync1 libxcb-util1 libfontconfig1 libdbus-1-3
fonts-dejavu-core"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "${missing// /}" ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "installing system packages: $missing"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
