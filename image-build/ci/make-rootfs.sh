#!/bin/bash
# image-build/ci/make-rootfs.sh [DIR]: the cached Debian root filesystem the slow image test uses.
#
# Makes DIR (default image-build/.cache/ci-rootfs) once: a minimal Debian bookworm (the Pi
# image's base release, for this machine's architecture) with systemd, Python, nftables and
# chrony, made by debootstrap, plus DIR/var/cache/alpr-wheelhouse: the appliance's dependencies
# as wheels for that Python, so the test installs the appliance offline. Needs root, debootstrap, the
# Debian mirror and PyPI, about 2 minutes and 450 MB. Run it again after deleting DIR to refresh.
# tests/test_image_build.py::test_image_parts_in_a_debian_root uses it when it exists.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
image_build=$(dirname "$here")
root=${1:-$image_build/.cache/ci-rootfs}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

[ "$(id -u)" = 0 ] || { echo "make-rootfs: run as root (debootstrap and chroot need it)" >&2; exit 2; }
command -v debootstrap >/dev/null || { echo "make-rootfs: install debootstrap (Debian package debootstrap)" >&2; exit 2; }

if [ ! -f "$root/etc/os-release" ]; then
	rm -rf "$root.partial"
	debootstrap --variant=minbase \
		--include=systemd,systemd-sysv,python3,python3-venv,nftables,chrony,ca-certificates \
		bookworm "$root.partial" "$mirror"
	mv "$root.partial" "$root"
fi

wheelhouse="$root/var/cache/alpr-wheelhouse"
if [ ! -d "$wheelhouse" ]; then
	wheels=$(mktemp -d)
	trap 'rm -rf "$wheels"' EXIT
	"$image_build/build-wheel.sh" "$wheels"
	# This machine's pip (and its index settings) fetches wheels for the root's Python version;
	# the root has the same architecture, so the platform tags fit.
	python=${PYTHON:-python3}
	[ -x "$image_build/../.venv/bin/python" ] && python=${PYTHON:-$image_build/../.venv/bin/python}
	version=$(chroot "$root" python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
	rm -rf "$wheelhouse.partial"
	"$python" -m pip download --quiet --disable-pip-version-check --only-binary=:all: --python-version "$version" \
		--dest "$wheelhouse.partial" "$wheels"/alpr_appliance-*.whl
	rm "$wheelhouse.partial"/alpr_appliance-*.whl
	mv "$wheelhouse.partial" "$wheelhouse"
fi
echo "make-rootfs: $root and $wheelhouse are ready"
