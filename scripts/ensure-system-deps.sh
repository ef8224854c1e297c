#!/usr/bin/env bash
# Installs the system programs VTP Live needs from Debian packages when they are missing.
# Usage: scripts/ensure-system-deps.sh ffmpeg [nginx] [chromium] [redis-server]
set -euo pipefail

package_for() {
  case "$1" in
    ffmpeg | ffprobe) echo ffmpeg ;;
    nginx) echo nginx ;;
    chromium) echo chromium ;;
    *) echo "$1" ;;
  esac
}

binary_present() {
  case "$1" in
    nginx) command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] ;;
    *) command -v "$1" >/dev/null 2>&1 ;;
  esac
}

missing=()
for program in "$@"; do
  binary_present "$program" || missing+=("$(package_for "$program")")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "vtp-live: installing missing system packages: ${missing[*]}" >&2
if ! command -v apt-get >/dev/null 2>&1; then
  echo "vtp-live: cannot install ${missing[*]}: no apt-get here. Install them with your package manager and retry." >&2
  exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
    echo "vtp-live: cannot install ${missing[*]}: not root and no sudo. Run: apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
if ! { $sudo apt-get update -qq && $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }; then
  echo "vtp-live: apt-get could not install ${missing[*]}. Install them by hand and retry." >&2
  exit 1
fi
for program in "$@"; do
  binary_present "$program" || { echo "vtp-live: $program is still missing after installing ${missing[*]}" >&2; exit 1; }
done
