"""The tracker on hand-made frames and plates: no models, no sleeping (time is the frames')."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from appliance.tracker import Tracker, direction_of_travel, text_similarity
from appliance.types import Alternative, Frame, Plate, Read, TextReading

T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)
FPS = 10.0


def frame(index: int, t: float | None = None, *, synced: bool = True, camera: str = "cam0",
          size: tuple[int, int] = (720, 1280)) -> Frame:
    """A frame painted with its own index, so a crop shows which frame it was cut from."""
    t = index / FPS if t is None else t
    image = np.full((*size, 3), index % 256, dtype=np.uint8)
    return Frame(image, index, 100.0 + t, T0 + timedelta(seconds=t), synced, camera)


def plate(text: str, box: tuple[int, int, int, int], conf: float = 0.9,
          alternatives: tuple[Alternative, ...] = ()) -> Plate:
    reading = TextReading(text, conf, tuple(min(1.0, conf + 0.05) for _ in text), alternatives)
    return Plate(text, conf, box, reading)


def drive(tracker: Tracker, sightings: list[list[Plate]], start: int = 0, **kw) -> tuple[list[Read], list[Read]]:
    """Feed one frame per entry; return (reads emitted while driving, reads from flush)."""
    during: list[Read] = []
    for i, plates in enumerate(sightings, start):
        during += tracker.update(frame(i, **kw), plates)
    return during, tracker.flush()


def passing(text: str, n: int = 8, x0: int = 100, dx: int = 60, y: int = 400, w: int = 120,
            misread: dict[int, str] | None = None, conf: float = 0.9) -> list[list[Plate]]:
    misread = misread or {}
    return [[plate(misread.get(i, text), (x0 + i * dx, y, w, 40), conf)] for i in range(n)]


def test_one_car_one_read_despite_two_confusable_misreads():
    t = Tracker("dev1", max_gap_s=1.0)
    sightings = passing("ABC0123", misread={2: "ABCO123", 5: "ABCO123"})
    sightings[2][0] = plate("ABCO123", sightings[2][0].box, 0.95)  # the misreads are even more confident
    sightings[5][0] = plate("ABCO123", sightings[5][0].box, 0.95)
    during = []
    for i, plates in enumerate(sightings):
        during += t.update(frame(i), plates)
    assert during == [] and t.open_tracks == 1
    during += t.update(frame(8), [])  # still within the gap
    assert during == []
    ended = t.update(frame(20), [])  # 1.3 s after the last sighting
    assert len(ended) == 1 and t.open_tracks == 0 and t.flush() == []
    r = ended[0]
    assert r.text == "ABC0123" and r.frames_seen == 8 and r.device_id == "dev1" and r.camera_id == "cam0"
    share = 6 * 0.9 / (6 * 0.9 + 2 * 0.95)
    assert r.confidence == pytest.approx(share * 0.9)
    assert r.first_seen == T0 and r.last_seen == T0 + timedelta(seconds=0.7)
    assert "ABCO123" in [a.text for a in r.alternatives]
    assert r.direction == "right" and len(r.char_confidences) == 7


def test_two_cars_at_once_give_two_reads():
    left = passing("ABC1234", x0=100, dx=0, y=100)
    left = [[plate("ABC1234", (100, 100 + 50 * i, 120, 40))] for i in range(8)]
    right = [[plate("XYZ9876" if i != 3 else "XYZ98T6", (900, 600 - 50 * i, 120, 40))] for i in range(8)]
    reads = sum(drive(Tracker("d"), [a + b for a, b in zip(left, right)]), [])
    assert sorted(r.text for r in reads) == ["ABC1234", "XYZ9876"]
    by_text = {r.text: r for r in reads}
    assert by_text["ABC1234"].direction == "down" and by_text["XYZ9876"].direction == "up"
    assert all(r.frames_seen == 8 for r in reads)


def test_neighbours_with_plates_one_character_apart_stay_separate():
    # Similar enough that either text would join either track: motion decides.
    a = [plate("ABC1234", (300, 300 + 20 * i, 120, 40)) for i in range(8)]
    b = [plate("ABC1284", (700, 300 + 20 * i, 120, 40)) for i in range(8)]
    reads = sum(drive(Tracker("d"), [[x, y] for x, y in zip(b, a)]), [])
    assert sorted((r.text, r.frames_seen) for r in reads) == [("ABC1234", 8), ("ABC1284", 8)]
    assert all(r.confidence == pytest.approx(0.9) and not r.alternatives for r in reads)  # no swapped frames


def test_occlusion_shorter_than_the_gap_keeps_one_track():
    seen = passing("7KJD552", n=11)
    for i in (4, 5, 6):
        seen[i] = []  # a bus passes in front for 0.3 s
    reads = sum(drive(Tracker("d", max_gap_s=1.0), seen), [])
    assert len(reads) == 1 and reads[0].frames_seen == 8 and reads[0].text == "7KJD552"


def test_same_plate_after_the_gap_is_a_new_pass():
    t = Tracker("d", max_gap_s=1.0)
    first = [t.update(frame(i), p) for i, p in enumerate(passing("7KJD552", n=4))]
    later = [t.update(frame(i), p) for i, p in enumerate(passing("7KJD552", n=4), start=30)]
    assert sum(first, []) == []
    assert [r.frames_seen for r in sum(later, [])] == [4]  # the first pass ended when the plate returned
    assert [r.frames_seen for r in t.flush()] == [4]


def test_fast_car_seen_in_three_frames():
    seen = [[plate("FAST99", (50 + 550 * i, 300 + 10 * i, 100, 35), 0.85)] for i in range(3)]
    reads = sum(drive(Tracker("d"), seen), [])
    assert len(reads) == 1 and reads[0].frames_seen == 3 and reads[0].direction == "right"


def test_fast_car_misread_on_its_second_frame_stays_one_track():
    # No velocity yet at the second frame and a far jump: only the text can join it.
    texts = ["FAST99", "FAST98", "FAST99"]
    seen = [[plate(s, (50 + 550 * i, 300, 100, 35), 0.85)] for i, s in enumerate(texts)]
    reads = sum(drive(Tracker("d"), seen), [])
    assert [(r.text, r.frames_seen) for r in reads] == [("FAST99", 3)]


def test_badly_misread_frame_joins_by_predicted_position():
    # Three characters wrong: the text alone is too far, but the box is where the
    # constant-velocity prediction (300 px a frame, 2.5 plate widths) puts the plate.
    texts = ["MOV4567", "MOV4567", "MXW4K67", "MOV4567"]
    seen = [[plate(s, (50 + 300 * i, 300, 120, 40))] for i, s in enumerate(texts)]
    reads = sum(drive(Tracker("d"), seen), [])
    assert [(r.text, r.frames_seen) for r in reads] == [("MOV4567", 4)]


def test_a_different_plate_in_the_same_spot_is_another_vehicle():
    # A car pulls away and the next stops where it stood: boxes agree, texts do not.
    seen = [[plate("PARK111" if i < 4 else "ZZRK876", (500 + i % 2, 400, 120, 40))] for i in range(8)]
    reads = sum(drive(Tracker("d"), seen), [])
    assert sorted((r.text, r.frames_seen) for r in reads) == [("PARK111", 4), ("ZZRK876", 4)]


def test_parked_car_is_reread_every_interval_not_every_frame():
    t = Tracker("d", max_gap_s=2.0, reread_interval_s=300)
    emitted_at: list[float] = []
    reads: list[Read] = []
    for s in range(0, 1201):  # 20 minutes at one frame a second, the box jittering by a pixel
        f = frame(s, t=float(s))
        got = t.update(f, [plate("PARK3D", (500 + s % 2, 400, 110, 38))])
        emitted_at += [f.monotonic] * len(got)
        reads += got
    reads += t.flush()
    assert 4 <= len(reads) <= 5
    assert all(r.text == "PARK3D" and r.direction == "stationary" for r in reads)
    assert emitted_at[0] - 100.0 == pytest.approx(300)
    assert all(b - a >= 300 for a, b in zip(emitted_at, emitted_at[1:]))
    assert sum(r.frames_seen for r in reads) == 1201  # every frame counted exactly once
    assert len({r.id for r in reads}) == len(reads)


def test_a_noisy_track_keeps_pictures_for_few_texts():
    t = Tracker("d", max_gap_s=5.0)
    noise = [f"REAL{i:02d}9" for i in range(30)]  # thirty different misreads, once each
    for i in range(60):
        text = "REAL123" if i % 2 == 0 else noise[i // 2]
        t.update(frame(i + 1), [plate(text, (400, 300, 120, 40), 0.9 if text == "REAL123" else 0.5)])
    (track,) = t._tracks  # white-box: the memory bound is the point of this test
    assert sum(c.crop is not None for c in track.window.candidates.values()) <= 8
    (r,) = t.flush()
    assert r.text == "REAL123" and (r.crop == 1).all() and (r.frame == 1).all()  # its first, most confident frame


def test_tick_ends_tracks_without_frames():
    t = Tracker("d", max_gap_s=1.5)
    for i, p in enumerate(passing("TICK12", n=5)):
        assert t.update(frame(i), p) == []
    assert t.tick(100.4 + 1.4) == []  # last sighting at 100.4
    reads = t.tick(100.4 + 1.6)
    assert [r.text for r in reads] == ["TICK12"] and t.open_tracks == 0


@pytest.mark.parametrize("dx,dy,expected", [(80, 0, "right"), (-80, 0, "left"), (5, 60, "down"),
                                            (0, -60, "up"), (3, 2, "stationary")])
def test_direction_detection(dx, dy, expected):
    seen = [[plate("DIR1234", (600 + dx * i, 300 + dy * i, 120, 40))] for i in range(6)]
    reads = sum(drive(Tracker("d"), seen), [])
    assert [r.direction for r in reads] == [expected]


def test_single_frame_direction_is_unknown_and_brief_doubtful_tracks_are_dropped():
    t = Tracker("d", min_frames=2, min_confidence=0.6)
    assert t.update(frame(0), [plate("GHOST1", (10, 10, 80, 30), 0.4)]) == []
    assert t.flush() == []  # one frame at 0.4: most likely a sign or an unreadable plate
    t.update(frame(1), [plate("SOLO77", (10, 10, 80, 30), 0.95)])
    reads = t.flush()  # one frame, but confident: a fast car is still a read
    assert [(r.text, r.direction, r.frames_seen) for r in reads] == [("SOLO77", "unknown", 1)]


def test_flush_at_shutdown_emits_open_tracks():
    t = Tracker("d", max_gap_s=5.0)
    for i in range(4):
        t.update(frame(i), [plate("OPEN111", (100, 100, 120, 40)), plate("OPEN222", (800, 500, 120, 40))])
    assert t.open_tracks == 2
    reads = t.flush()
    assert sorted(r.text for r in reads) == ["OPEN111", "OPEN222"]
    assert t.open_tracks == 0 and t.flush() == []


def test_crop_and_frame_come_from_the_chosen_frame():
    confs = [0.80, 0.85, 0.90, 0.99, 0.88, 0.97, 0.86, 0.82]
    seen = [[plate("CROP123" if i != 3 else "CR0P123", (100 + 60 * i, 300, 120, 40), c)]
            for i, c in enumerate(confs)]
    (r,) = sum(drive(Tracker("d", frame_max_width=640), seen, size=(720, 1280)), [])
    # Frame 3 is the most confident sighting overall but reads the losing text; frame 5 wins.
    assert r.text == "CROP123" and r.box == (400, 300, 120, 40)
    assert (r.crop == 5).all() and (r.frame == 5).all()
    assert r.crop.shape == (40 + 2 * 4, 120 + 2 * 12, 3)
    assert r.frame.shape == (360, 640, 3)
    assert r.char_confidences == pytest.approx((1.0,) * 7)  # the chosen frame's own (0.97 + 0.05, capped)


def test_crop_at_the_image_edge_is_clipped():
    seen = [[plate("EDGE123", (1200 - i, 690, 80, 30))] for i in range(3)]
    (r,) = sum(drive(Tracker("d"), seen), [])
    assert r.crop.shape[0] == 720 - (690 - 3) and r.crop.shape[1] == 1280 - (r.box[0] - 8)


def test_small_frames_are_not_upscaled():
    (r,) = sum(drive(Tracker("d", frame_max_width=640), passing("SMALL12", n=3, x0=10, dx=20, w=60),
                     size=(240, 320)), [])
    assert r.frame.shape == (240, 320, 3)


@pytest.mark.parametrize("unsynced,expected", [((), True), ((4,), False)])
def test_clock_synced_false_propagates(unsynced, expected):
    t = Tracker("d")
    for i, p in enumerate(passing("SYNC123")):
        t.update(frame(i, synced=i not in unsynced), p)
    assert [r.clock_synced for r in t.flush()] == [expected]


def test_read_id_is_a_uuid7_of_the_first_sighting():
    t = Tracker("d")
    for i, p in enumerate(passing("IDS1234", n=3), start=7):
        t.update(frame(i), p)
    (r,) = t.flush()
    u = uuid.UUID(r.id)
    assert u.version == 7 and u.int >> 80 == int((T0 + timedelta(seconds=0.7)).timestamp() * 1000)


def test_scattered_misreads_are_outvoted_position_by_position():
    texts = ["XBC1234", "AYC1234", "ABZ1234", "ABC1W34", "ABC12V4"]  # every frame wrong, each differently
    seen = [[plate(s, (400 + 5 * i, 300, 120, 40), 0.8 + 0.01 * i)] for i, s in enumerate(texts)]
    (r,) = sum(drive(Tracker("d"), seen), [])
    assert r.text == "ABC1234" and r.frames_seen == 5
    assert r.confidence == pytest.approx(min(r.char_confidences)) and 0.5 < r.confidence < 0.9
    assert (r.crop == 4).all()  # all are one character off: the most confident of them
    assert {"XBC1234", "ABC12V4"} <= {a.text for a in r.alternatives}


def test_reader_alternatives_are_kept():
    seen = [[plate("ALT5678", (100 + 40 * i, 300, 120, 40), alternatives=(Alternative("ALTS678", 0.3),))]
            for i in range(4)]
    (r,) = sum(drive(Tracker("d"), seen), [])
    assert ("ALTS678", 0.3) in [(a.text, a.score) for a in r.alternatives]


def test_time_going_back_ends_the_cameras_tracks():
    t = Tracker("d", max_gap_s=10)
    t.update(frame(50), [plate("LOOP123", (100, 100, 120, 40))])
    t.update(frame(51), [plate("LOOP123", (110, 100, 120, 40))])
    reads = t.update(frame(0), [plate("LOOP123", (100, 100, 120, 40))])  # the replay starts over
    assert [r.frames_seen for r in reads] == [2] and t.open_tracks == 1


def test_cameras_are_tracked_separately():
    t = Tracker("d")
    for i in range(3):
        t.update(frame(i, camera="north"), [plate("TWIN123", (100, 100, 120, 40))])
        t.update(frame(i, camera="south"), [plate("TWIN123", (100, 100, 120, 40))])
    assert sorted(r.camera_id for r in t.flush()) == ["north", "south"]


def test_text_similarity_treats_confusables_as_near():
    assert text_similarity("ABC0123", "ABCO123") > 0.95
    assert text_similarity("ABC1234", "ABC1284") == pytest.approx(1 - 1 / 7)
    assert text_similarity("ABC1234", "XYZ9876") < 0.3
    assert text_similarity("", "ABC") == 0.0


def test_direction_helper_needs_two_frames():
    assert direction_of_travel((0, 0), (500, 0), 100, 1) == "unknown"
    assert direction_of_travel((0, 0), (40, 0), 100, 2) == "stationary"


@pytest.mark.parametrize("kw,name", [({"max_gap_s": 0}, "max_gap_s"), ({"reread_interval_s": -1}, "reread_interval_s"),
                                     ({"min_frames": 0}, "min_frames"), ({"min_confidence": 1.5}, "min_confidence"),
                                     ({"frame_max_width": 8}, "frame_max_width")])
def test_bad_settings_are_named(kw, name):
    with pytest.raises(ValueError, match=name):
        Tracker("d", **kw)


def test_bad_box_is_refused():
    with pytest.raises(ValueError, match="positive width and height"):
        Tracker("d").update(frame(0), [plate("BOX1234", (10, 10, 0, 30))])
