#!/bin/bash
# install-venv.sh [--system-site-packages] [--extra NAME] [--wheelhouse DIR] [--prefix DIR] [--link PATH|none] WHEEL
#
# Installs the appliance from WHEEL (built by image-build/build-wheel.sh) into a fresh
# virtualenv PREFIX/venv (default /opt/alpr/venv), owned by root and read-only to the service.
# Runs on the target itself: inside pi-gen's chroot for the Pi image, on the Jetson directly.
#
# --system-site-packages: the venv also sees the OS's Python packages; the Pi needs this for
#   python3-picamera2 and libcamera, which exist only as apt packages, and the Jetson for
#   NVIDIA's OpenCV (GStreamer) and jetson-utils. numpy is then held below 2 when the OS's
#   numpy is 1.x, because the OS's compiled modules (simplejpeg, cv2, ...) break under numpy 2.
# --extra NAME: install WHEEL[NAME] (pi, jetson), the board's optional dependencies.
# --wheelhouse DIR: install from DIR only (no index), for builds without PyPI.
# --link PATH: symlink to the alpr command (default /usr/local/bin/alpr; none: no link).
# --onnxruntime-wheel FILE: replace PyPI's onnxruntime with this build (NVIDIA's onnxruntime-gpu
#   on a Jetson; PyPI has no aarch64 GPU wheels).
# --drop PACKAGE: uninstall a dependency the OS provides better (the Jetson's OpenCV with
#   GStreamer instead of opencv-python-headless); repeatable.
# Writes PREFIX/SHA256SUMS, so the installed software can be checked later (POLICY DS-6):
#   cd / && sha256sum --check --quiet /opt/alpr/SHA256SUMS
set -euo pipefail

die() { echo "install-venv: $*" >&2; exit 2; }

prefix=/opt/alpr
link=/usr/local/bin/alpr
site=0
extra=
wheelhouse=
python=${PYTHON:-python3}
wheel=
ort_wheel=
drop=()
while [ $# -gt 0 ]; do
	case "$1" in
		--system-site-packages) site=1; shift ;;
		--extra) extra=${2:?--extra needs a name}; shift 2 ;;
		--wheelhouse) wheelhouse=${2:?--wheelhouse needs a folder}; shift 2 ;;
		--prefix) prefix=${2:?--prefix needs a folder}; shift 2 ;;
		--link) link=${2:?--link needs a path or none}; shift 2 ;;
		--onnxruntime-wheel) ort_wheel=${2:?--onnxruntime-wheel needs a file}; shift 2 ;;
		--drop) drop+=("${2:?--drop needs a package name}"); shift 2 ;;
		-h|--help) sed -n '2,22p' "${BASH_SOURCE[0]}"; exit 0 ;;
		-*) die "unknown option '$1' (allowed: --system-site-packages, --extra, --wheelhouse, --prefix, --link, --onnxruntime-wheel, --drop)" ;;
		*) [ -z "$wheel" ] || die "one wheel only; got '$wheel' and '$1'"; wheel=$1; shift ;;
	esac
done
[ -n "$wheel" ] || die "give the wheel to install (image-build/build-wheel.sh makes it)"
[ -f "$wheel" ] || die "wheel $wheel does not exist"
case "$wheel" in
	*.whl) ;;
	*) die "$wheel is not a wheel (.whl)" ;;
esac
case "$extra" in
	''|pi|jetson) ;;
	*) die "--extra must be pi or jetson; got '$extra'" ;;
esac
[ -z "$wheelhouse" ] || [ -d "$wheelhouse" ] || die "--wheelhouse $wheelhouse is not a folder"
[ -z "$ort_wheel" ] || [ -f "$ort_wheel" ] || die "--onnxruntime-wheel $ort_wheel does not exist"
wheel=$(cd "$(dirname "$wheel")" && pwd)/$(basename "$wheel")

venv="$prefix/venv"
umask 022
rm -rf "$venv"
mkdir -p "$prefix"
venv_args=()
[ "$site" = 1 ] && venv_args+=(--system-site-packages)
"$python" -m venv "${venv_args[@]}" "$venv"

pip_args=(--no-cache-dir --disable-pip-version-check --no-input)
if [ -n "$wheelhouse" ]; then
	pip_args+=(--no-index --find-links "$wheelhouse")
fi
constraints="$prefix/constraints.txt"
: >"$constraints"
if [ "$site" = 1 ]; then
	os_numpy=$("$python" -c 'import numpy; print(numpy.__version__)' 2>/dev/null || true)
	case "$os_numpy" in
		1.*) echo "numpy<2  # the OS's compiled modules were built against numpy $os_numpy" >>"$constraints" ;;
	esac
fi
target=$wheel
[ -n "$extra" ] && target="${wheel}[${extra}]"
"$venv/bin/python" -m pip install "${pip_args[@]}" --constraint "$constraints" "$target"
if [ -n "$ort_wheel" ]; then
	"$venv/bin/python" -m pip uninstall --yes onnxruntime
	"$venv/bin/python" -m pip install "${pip_args[@]}" --constraint "$constraints" "$ort_wheel"
fi
if [ "${#drop[@]}" -gt 0 ]; then
	"$venv/bin/python" -m pip uninstall --yes "${drop[@]}"
fi

# The service cannot write under /opt (ProtectSystem=strict), so byte-code is compiled now.
"$venv/bin/python" -m compileall -q "$venv/lib" >/dev/null || true
if [ "$link" != none ]; then
	mkdir -p "$(dirname "$link")"
	ln -sfn "$venv/bin/alpr" "$link"
fi
# Checksums of every installed file, paths relative to /.
(cd / && find "${venv#/}" -type f -print0 | sort -z | xargs -0 sha256sum) >"$prefix/SHA256SUMS"
echo "install-venv: $(basename "$wheel")${extra:+ [$extra]} installed in $venv ($(wc -l <"$prefix/SHA256SUMS") files in $prefix/SHA256SUMS)"
