"""Extra serial faces for training only: serif, slab and monospaced faces from Debian.

The renderer's own faces (appliance/synth/plates.py SERIAL_FONTS) are all sans, and the
reader learned them so well that it read synthetic plates in unseen faces far worse (about
88 % against 54 % exact with reader-run12). Real plates come in many more faces than ours
(Virginia's serif, Utah's, Nevada's), so the training chunks draw from these as well.
They are read from the system's font packages, not shipped: the demo and the tests draw
plates in the renderer's own faces.
"""

from __future__ import annotations

from pathlib import Path

URW = Path("/usr/share/fonts/opentype/urw-base35")
DEJAVU = Path("/usr/share/fonts/truetype/dejavu")
LIBERATION = Path("/usr/share/fonts/truetype/liberation")
EXTRA_FACES = (
    URW / "C059-Bold.otf", URW / "NimbusRoman-Bold.otf", URW / "P052-Bold.otf", URW / "URWBookman-Demi.otf",
    URW / "NimbusMonoPS-Bold.otf", URW / "URWGothic-Demi.otf",
    DEJAVU / "DejaVuSerifCondensed-Bold.ttf", DEJAVU / "DejaVuSerif-Bold.ttf", DEJAVU / "DejaVuSansMono-Bold.ttf",
    LIBERATION / "LiberationSerif-Bold.ttf", LIBERATION / "LiberationMono-Bold.ttf",
)
PACKAGES = "fonts-urw-base35 fonts-dejavu-core fonts-dejavu-extra fonts-liberation"


def extra_faces() -> tuple[str, ...]:
    """The extra faces' paths; a clear error naming the packages if any is missing."""
    missing = [str(f) for f in EXTRA_FACES if not f.is_file()]
    if missing:
        raise SystemExit(f"missing font files {', '.join(missing)}: apt-get install -y {PACKAGES}")
    return tuple(str(f) for f in EXTRA_FACES)
