"""Auto strength: the identity monitor's readings raise the strength quickly and relax it slowly,
never below the user's strength nor above MAX_STRENGTH."""
import pytest

from vcam.engine.auto_strength import AutoStrength
from vcam.engine.filters import MAX_STRENGTH
from vcam.engine.monitors import IdentityReading


def reading(t: float, distance: float | None, enrolled: bool = True) -> IdentityReading:
    return IdentityReading(t, enrolled, distance, None if distance is None else distance < 0.6, 0.6)


def test_rises_while_recognisable_and_stops_at_the_maximum() -> None:
    auto = AutoStrength()
    auto.update(reading(0, None, enrolled=False), 1.0)
    assert auto.strength(1.0) == 1.0  # enrolling: no verdict yet
    seen = []
    for t in range(1, 9):
        auto.update(reading(t, 0.4), 1.0)
        seen.append(auto.strength(1.0))
    assert seen[0] == pytest.approx(1.1) and seen == sorted(seen) and seen[-1] == pytest.approx(MAX_STRENGTH)


def test_acts_just_before_a_match_and_not_when_clear() -> None:
    auto = AutoStrength(margin=0.05)
    auto.update(reading(1, 0.63), 1.0)  # no match yet, but within the margin
    assert auto.strength(1.0) == pytest.approx(1.1)
    auto.reset()
    auto.update(reading(2, 0.7), 1.0)
    assert auto.strength(1.0) == 1.0


def test_relaxes_slowly_to_the_floor_and_follows_a_new_floor() -> None:
    auto = AutoStrength(calm_readings=3)
    for t in range(3):
        auto.update(reading(t, 0.5), 0.8)
    assert auto.strength(0.8) == pytest.approx(1.1)
    for t in range(3, 5):
        auto.update(reading(t, 0.9), 0.8)
    assert auto.strength(0.8) == pytest.approx(1.1)  # two calm readings: not yet
    auto.update(reading(5, 0.9), 0.8)
    assert auto.strength(0.8) == pytest.approx(1.05)
    assert auto.strength(1.3) == pytest.approx(MAX_STRENGTH)  # the user raised the floor
    assert auto.strength(MAX_STRENGTH) == MAX_STRENGTH
    for t in range(6, 60):
        auto.update(reading(t, 0.9), 0.8)
    assert auto.strength(0.8) == 0.8
