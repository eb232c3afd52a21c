"""When a weak detection is a plate: the reader confirms what the detector was unsure of.

The detector's threshold (detector.THRESHOLD) keeps sign text out, but it also drops
small and dim plates: on the US training/validation scenes one plate of 52 (car22, 55 px
wide) peaked at 0.11. Peaks from WEAK_THRESHOLD up are read once on their box cut; the
few that look like a plate (`promising`) get the engine's four reads, and the plate is
reported only when the agreed text is `sure`: confident, of plate length, letters and
digits, and in some state's format. Chosen on the US training/validation scenes: 170 weak
peaks (at most MAX_WEAK per frame) were read, 7 looked like plates, and the rules kept
car22's plate and us4's (already found by a strong peak) and no false read. The
leave-out scenes were read once afterwards: both plates the detector had missed were
found, with no false read.
"""

from __future__ import annotations

from appliance.types import TextReading

WEAK_THRESHOLD = 0.1  # detector peaks from here up are read; below the detector's own threshold they are "weak"
SCREEN_CONFIDENCE = 0.5  # the box cut's read must reach this to earn the four reads
MIN_CHARS = 5  # shorter texts on weak peaks are mostly sign words and fragments
SURE_CONFIDENCE = 0.8  # the agreed read of a weak detection must reach this to be reported
MAX_WEAK = 6  # weak detections screened per frame, strongest first (the scenes had 4 on average, car22's plate 4th)


def promising(r: TextReading) -> bool:
    """A weak detection's first read is worth the four reads."""
    return r.confidence >= SCREEN_CONFIDENCE and len(r.text) >= MIN_CHARS - 1


def sure(r: TextReading) -> bool:
    """A weak detection's agreed read is a plate: confident, long enough, letters and digits, in a state's format.

    All-digit strings on weak peaks were phone and street numbers, not plates.
    """
    t = r.text
    mixed = any(c.isdigit() for c in t) and any(c.isalpha() for c in t)
    return r.confidence >= SURE_CONFIDENCE and len(t) >= MIN_CHARS and mixed and bool(r.states)
