"""Day/night switching follows scene brightness with hysteresis and a hold time."""

import numpy as np
import pytest

from firmware.daynight import DayNight


def frame(level: int) -> np.ndarray:
    return np.full((72, 128, 3), level, np.uint8)


class Recorder:
    def __init__(self):
        self.illuminator, self.ir_cut = [], []


def make(**kw):
    r = Recorder()
    return DayNight(r.illuminator.append, r.ir_cut.append, window=5, hold_s=10, **kw), r


def test_dark_scene_turns_night_on_after_the_window():
    d, r = make()
    for t in range(4):
        assert d.observe(frame(10), t) is None  # window not full yet: no decision
    assert d.observe(frame(10), 4) is True
    assert r.illuminator == [1.0] and r.ir_cut == [False]


def test_hysteresis_keeps_the_mode_between_thresholds_and_hold_time_stops_flapping():
    d, r = make()
    for t in range(5):
        d.observe(frame(200), t)
    assert d.night is False and r.illuminator == [0.0] and r.ir_cut == [True]
    for t in range(5, 10):
        d.observe(frame(60), t)  # dusk: between 40 and 90, no switch
    assert d.night is False and len(r.illuminator) == 1
    for t in range(10, 14):
        d.observe(frame(5), t)  # dark, but within 10 s of the last switch
    assert d.night is False
    d.observe(frame(5), 16)
    assert d.night is True and r.illuminator[-1] == 1.0 and r.ir_cut[-1] is False


def test_headlights_for_a_frame_or_two_do_not_switch_to_day():
    d, r = make()
    for t in range(5):
        d.observe(frame(10), t)
    for t in range(20, 22):
        d.observe(frame(255), t)  # two bright frames in a window of five
    assert d.night is True and r.illuminator == [1.0]


def test_bad_thresholds_are_refused():
    with pytest.raises(ValueError, match="night_below < day_above"):
        DayNight(lambda level: None, night_below=100, day_above=50)
