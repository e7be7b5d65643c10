"""Auto strength: the identity monitor's readings raise the strength quickly and relax it slowly,
gliding between values, never below the user's strength nor above MAX_STRENGTH."""

import pytest

from vcam.engine.filters import MAX_STRENGTH
from vcam.engine.monitors import IdentityReading
from vcam.engine.monitors.auto_strength import AutoStrength


def reading(t: float, distance: float | None, enrolled: bool = True) -> IdentityReading:
    return IdentityReading(t, enrolled, distance, None if distance is None else distance < 0.6, 0.6)


def second(auto: AutoStrength, t: int, distance: float | None, floor: float) -> float:
    """One reading at ``t`` s, then the frames of the next second; the strength at its end."""
    auto.update(reading(t, distance, enrolled=distance is not None), floor)
    for k in range(1, 31):
        auto.advance(t + k / 30)
    return auto.strength(floor)


def test_rises_while_recognisable_and_stops_at_the_maximum() -> None:
    auto = AutoStrength()
    auto.advance(0.0)
    assert second(auto, 0, None, 1.0) == 1.0  # enrolling: no verdict yet
    seen = [second(auto, t, 0.4, 1.0) for t in range(1, 9)]
    assert seen[0] == pytest.approx(1.1) and seen == sorted(seen) and seen[-1] == pytest.approx(MAX_STRENGTH)


def test_glides_instead_of_jumping() -> None:
    auto = AutoStrength()
    auto.advance(0.0)
    auto.update(reading(0, 0.4), 1.0)
    auto.advance(0.5)
    assert auto.strength(1.0) == pytest.approx(1.05)  # half-way after half a second
    auto.advance(3.0)
    assert auto.strength(1.0) == pytest.approx(1.1)


def test_readings_faster_than_the_glide_do_not_pile_up() -> None:
    auto = AutoStrength()
    auto.advance(0.0)
    for k in range(5):  # five close readings within half a second
        auto.update(reading(k / 10, 0.4), 1.0)
        auto.advance((k + 1) / 10)
    assert auto.boost == pytest.approx(auto.applied + 0.1, abs=0.011) and auto.boost < 0.2


def test_acts_just_before_a_match_and_not_when_clear() -> None:
    auto = AutoStrength(margin=0.05)
    auto.advance(0.0)
    assert second(auto, 0, 0.63, 1.0) == pytest.approx(1.1)  # no match yet, but within the margin
    auto.reset()
    auto.advance(1.0)
    assert second(auto, 1, 0.7, 1.0) == 1.0


def test_relaxes_slowly_to_the_floor_and_follows_a_new_floor() -> None:
    auto = AutoStrength(calm_readings=3)
    auto.advance(0.0)
    for t in range(3):
        second(auto, t, 0.5, 0.8)
    assert auto.strength(0.8) == pytest.approx(1.1)
    assert [second(auto, t, 0.9, 0.8) for t in range(3, 6)] == pytest.approx([1.1, 1.1, 1.05])  # 3rd calm reading
    assert auto.strength(1.3) == pytest.approx(MAX_STRENGTH)  # the user raised the floor
    assert auto.strength(MAX_STRENGTH) == MAX_STRENGTH
    for t in range(6, 60):
        second(auto, t, 0.9, 0.8)
    assert auto.strength(0.8) == 0.8
