#!/bin/bash
# build-wheel.sh [OUTDIR]: builds the appliance's wheel from this repository into OUTDIR
# (default image-build/out). The wheel is pure Python (models included), so one build serves
# both boards. Uses the repository's .venv when there is one, else python3.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
out=${1:-$here/out}
python=${PYTHON:-}
if [ -z "$python" ]; then
	if [ -x "$repo/.venv/bin/python" ]; then python=$repo/.venv/bin/python; else python=python3; fi
fi

mkdir -p "$out"
rm -f "$out"/alpr_appliance-*.whl
# A fresh copy of the files git tracks or would track (not ignored ones such as .venv, caches
# or an editable install's egg-info), so nothing local leaks into the wheel.
git -C "$repo" rev-parse --git-dir >/dev/null 2>&1 || { echo "build-wheel: $repo is not a git checkout" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git -C "$repo" ls-files -z --cached --others --exclude-standard | tar -C "$repo" --null -T - -cf - | tar -C "$work" -xf -
"$python" -m pip wheel --quiet --no-deps --disable-pip-version-check --wheel-dir "$out" "$work"
ls "$out"/alpr_appliance-*.whl
