#!/bin/bash
# image-build/pi/build.sh: builds the Raspberry Pi OS Lite (64-bit) image of the appliance.
#
#   sudo image-build/pi/build.sh            # image in image-build/.cache/pi-gen/deploy/
#
# Steps: build the wheel from this repository, fetch pi-gen (arm64 branch) into
# image-build/.cache/pi-gen (or use PI_GEN_DIR), copy stage-alpr into it with files/ filled
# (one copy of image-build/ and the wheel), write pi-gen's config (image-build/pi/config, then
# image-build/pi/config.local if present) and run pi-gen: build-docker.sh when Docker is
# installed, else build.sh (Debian/Ubuntu host, root, qemu-user-static and binfmt for arm64).
# Needs the network: Raspberry Pi's and Debian's package servers, and PyPI for the wheel's
# dependencies.
#   PI_GEN_DIR=DIR      an existing pi-gen checkout to use (arm64 branch)
#   PI_GEN_REF=REF      branch or tag to fetch (default arm64; pin a release tag for repeatable images)
#   PI_GEN_DOCKER=0|1   force pi-gen's native (0) or Docker (1) build
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
image_build=$(dirname "$here")
pi_gen=${PI_GEN_DIR:-$image_build/.cache/pi-gen}
ref=${PI_GEN_REF:-arm64}

if [ ! -x "$pi_gen/build.sh" ]; then
	mkdir -p "$(dirname "$pi_gen")"
	git clone --depth 1 --branch "$ref" https://github.com/RPi-Distro/pi-gen.git "$pi_gen"
fi

wheels=$(mktemp -d)
trap 'rm -rf "$wheels"' EXIT
"$image_build/build-wheel.sh" "$wheels"

stage="$pi_gen/stage-alpr"
rm -rf "$stage"
cp -a "$here/stage-alpr" "$stage"
files="$stage/00-alpr/files"
mkdir -p "$files/image-build" "$files/wheels"
# One copy of image-build/ (shared parts, both overlays), without build leftovers.
tar -C "$image_build" --exclude=./.cache --exclude=./out -cf - . | tar -C "$files/image-build" -xf -
cp "$wheels"/alpr_appliance-*.whl "$files/wheels/"

cp "$here/config" "$pi_gen/config"
if [ -f "$here/config.local" ]; then
	cat "$here/config.local" >>"$pi_gen/config"
fi
# Only stage-alpr exports an image (not the plain Lite image of stage2).
touch "$pi_gen/stage2/SKIP_IMAGES"

cd "$pi_gen"
docker_build=${PI_GEN_DOCKER:-}
if [ -z "$docker_build" ]; then
	if command -v docker >/dev/null 2>&1; then docker_build=1; else docker_build=0; fi
fi
if [ "$docker_build" = 1 ]; then
	./build-docker.sh
else
	[ "$(id -u)" = 0 ] || { echo "pi/build.sh: pi-gen's native build must run as root (sudo), or install Docker" >&2; exit 2; }
	./build.sh
fi
ls -l "$pi_gen/deploy/"
