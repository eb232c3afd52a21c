#!/bin/bash
# image-build/jetson/install.sh: turns a fresh Jetson (JetPack 6) into the appliance.
#
#   sudo image-build/jetson/install.sh [--wheel FILE] [--onnxruntime-wheel FILE] [--keep-pip-opencv]
#
# Run on the Jetson, from a checkout of this repository, after flashing JetPack 6 and creating
# the installer's own account. It installs the apt packages (packages.txt), the appliance into
# /opt/alpr/venv (from --wheel, or a wheel built from the checkout), then the shared system
# parts with image-build/shared/install-rootfs.sh --board jetson: the same units, firewall,
# time sync, journald, core-dump, swap and watchdog settings as the Raspberry Pi image.
# Nothing is started: reboot afterwards. Re-running it updates the appliance and keeps the
# site's files (/etc/alpr, chrony sources).
#   --onnxruntime-wheel FILE   NVIDIA's onnxruntime-gpu for this JetPack (PyPI has no aarch64
#                              GPU build); without it recognition runs on the CPU.
#   --keep-pip-opencv          keep PyPI's opencv-python-headless; by default it is removed when
#                              JetPack's OpenCV has GStreamer, which the CSI camera needs.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
image_build=$(dirname "$here")
die() { echo "jetson/install.sh: $*" >&2; exit 2; }

wheel=
ort_wheel=
keep_pip_opencv=0
while [ $# -gt 0 ]; do
	case "$1" in
		--wheel) wheel=${2:?--wheel needs a file}; shift 2 ;;
		--onnxruntime-wheel) ort_wheel=${2:?--onnxruntime-wheel needs a file}; shift 2 ;;
		--keep-pip-opencv) keep_pip_opencv=1; shift ;;
		-h|--help) sed -n '2,19p' "${BASH_SOURCE[0]}"; exit 0 ;;
		*) die "unknown argument '$1' (allowed: --wheel FILE, --onnxruntime-wheel FILE, --keep-pip-opencv)" ;;
	esac
done

[ "$(id -u)" = 0 ] || die "run as root (sudo)"
[ "$(uname -m)" = aarch64 ] || die "this is for a Jetson (aarch64); this machine is $(uname -m)"
[ -f /etc/nv_tegra_release ] || die "/etc/nv_tegra_release is missing: flash JetPack 6 first"

export DEBIAN_FRONTEND=noninteractive
apt-get update
# shellcheck disable=SC2046  # one package per word
apt-get install -y --no-install-recommends $(grep -v '^#' "$here/packages.txt")

if [ -z "$wheel" ]; then
	wheels=$(mktemp -d)
	trap 'rm -rf "$wheels"' EXIT
	PYTHON=python3 "$image_build/build-wheel.sh" "$wheels"
	wheel=$(ls "$wheels"/alpr_appliance-*.whl)
fi

venv_args=(--system-site-packages --extra jetson)
[ -n "$ort_wheel" ] && venv_args+=(--onnxruntime-wheel "$ort_wheel")
if [ "$keep_pip_opencv" = 0 ] && python3 -c 'import cv2, re, sys; sys.exit(not re.search(r"GStreamer:\s+YES", cv2.getBuildInformation()))' 2>/dev/null; then
	venv_args+=(--drop opencv-python-headless)
else
	echo "jetson/install.sh: warning: using PyPI's OpenCV, which has no GStreamer (the CSI camera pipeline needs it)" >&2
fi
"$image_build/shared/install-venv.sh" "${venv_args[@]}" "$wheel"

# systemd-creds and LoadCredentialEncrypted= arrived in systemd 250; JetPack 6 has 249.
systemd_version=$(systemctl --version | awk 'NR == 1 { print $2 }')
credentials=encrypted
[ "${systemd_version%%.*}" -ge 250 ] || credentials=plain
"$image_build/shared/install-rootfs.sh" --board jetson --root / --credentials "$credentials"

if [ -n "${SSH_CONNECTION:-}" ]; then
	echo "jetson/install.sh: after the reboot SSH takes keys only, from the management networks in /etc/alpr/firewall-site.nft: check both before rebooting" >&2
fi
echo "jetson/install.sh: done; edit /etc/alpr/alpr.toml and /etc/alpr/firewall-site.nft, then reboot"
