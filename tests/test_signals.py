import numpy as np
import pytest

from vcam.engine.monitors import RppgMonitor
from vcam.engine.pulse.rppg import chrom, pos
from vcam.engine.pulse.signals import (
    heart_rate,
    hr_errors,
    peak_over_median_db,
    pearson,
    quality,
    resample_uniform,
    snr_db,
    spectral_similarity,
    windowed_hr,
)
from vcam.engine.pulse.synth import SKIN_PULSE_DIRECTION, ppg_waveform

FS = 30.0


def skin_trace(hr: float, seconds: float = 10.0, noise: float = 0.05, seed: int = 0) -> np.ndarray:
    t = np.arange(int(seconds * FS)) / FS
    rng = np.random.default_rng(seed)
    pulse = ppg_waveform(t, hr, hrv_bpm=0.0, rng=rng)
    light = 1 + 0.02 * np.sin(2 * np.pi * 0.05 * t)[:, None]
    rgb = np.array([180.0, 120.0, 100.0]) * (1 + 0.004 * pulse[:, None] * SKIN_PULSE_DIRECTION / SKIN_PULSE_DIRECTION[1]) * light
    return rgb + rng.normal(0, noise, rgb.shape)


def test_hr_of_a_pure_72_bpm_sinusoid() -> None:
    t = np.arange(300) / FS
    assert heart_rate(np.sin(2 * np.pi * 1.2 * t), FS) == pytest.approx(72.0, abs=0.5)


@pytest.mark.parametrize(
    "fundamental, harmonic, expected",
    [
        (1.0, 1.15, 68.0),  # harmonic 1.3x the fundamental's power (a strong dicrotic notch): still 68
        (0.5, 1.0, 136.0),  # a weak peak at half the frequency does not halve a real 136 bpm
        (1.0, 0.9, 68.0),
    ],
)
def test_hr_is_not_read_an_octave_high(fundamental: float, harmonic: float, expected: float) -> None:
    t = np.arange(300) / FS
    f = 68.0 / 60.0
    x = fundamental * np.sin(2 * np.pi * f * t) + harmonic * np.sin(2 * np.pi * 2 * f * t + 0.7)
    assert heart_rate(x, FS) == pytest.approx(expected, abs=1.0)


@pytest.mark.parametrize("hr", [50, 72, 96, 130, 170])
@pytest.mark.parametrize("method", [pos, chrom])
def test_pos_and_chrom_recover_the_injected_hr(hr: float, method) -> None:
    assert heart_rate(method(skin_trace(hr), FS), FS) == pytest.approx(hr, abs=1.0)


def test_snr_and_quality_separate_pulse_from_noise() -> None:
    clean = pos(skin_trace(72), FS)
    noisy = pos(skin_trace(72, noise=3.0), FS)
    assert snr_db(clean, FS, 72) > snr_db(noisy, FS, 72) + 6
    assert quality(snr_db(clean, FS, 72)) > 0.8 > quality(-20.0)


def test_a_pulse_stands_above_the_band_median_only_at_its_rate() -> None:
    bvp = pos(skin_trace(72), FS)
    assert peak_over_median_db(bvp, FS, 72) > 15.0
    assert peak_over_median_db(bvp, FS, 110) < 6.0 and peak_over_median_db(pos(skin_trace(72, noise=3.0, seed=1), FS), FS, 110) < 10.0


def test_resample_uniform_from_jittered_timestamps() -> None:
    rng = np.random.default_rng(1)
    t = np.cumsum(rng.uniform(0.025, 0.041, 300))
    x = np.sin(2 * np.pi * 1.5 * t)
    y = resample_uniform(t, x, FS)
    assert heart_rate(y, FS) == pytest.approx(90.0, abs=1.0)


def test_rppg_monitor_warms_up_then_reads_both_streams() -> None:
    mon = RppgMonitor(fs=FS)
    skin = np.ones((4, 4), bool)
    raw = skin_trace(80, seconds=12) / 255.0
    readings = []
    for i, rgb in enumerate(raw):
        crop = np.broadcast_to(rgb.astype(np.float32), (4, 4, 3))
        if mon.add(i / FS, 7, crop, crop * 0.5, skin):
            readings.append(mon.read())
    assert readings[0].warming_up and not readings[-1].warming_up
    last = readings[-1]
    assert last.hr_raw["pos"] == pytest.approx(80, abs=1.0)
    assert last.hr_protected["pos"] == pytest.approx(80, abs=1.0)  # scaling keeps the pulse
    assert len(readings) == pytest.approx(12, abs=1)  # one per second
    # the live plot gets the waveforms; the run's history keeps numbers only (hours-long calls)
    assert len(last.bvp_raw) > 200 and mon.readings[-1].bvp_raw is None
    assert mon.readings[-1].hr_raw == last.hr_raw


def test_rppg_monitor_restarts_on_a_new_face() -> None:
    mon = RppgMonitor(fs=FS, warmup=2.0)
    skin = np.ones((2, 2), bool)
    crop = np.full((2, 2, 3), 0.5, np.float32)
    for i in range(90):
        mon.add(i / FS, 1, crop, crop, skin)
    assert not mon.read().warming_up
    mon.add(3.01, 2, crop, crop, skin)
    assert mon.read().warming_up


def test_pearson_known_answers() -> None:
    x = np.sin(np.linspace(0, 20, 500))
    assert pearson(x, 3 * x + 2) == pytest.approx(1.0)
    assert pearson(x, -x) == pytest.approx(-1.0)
    assert pearson(x, np.ones_like(x)) == 0.0


def test_spectral_similarity_is_band_limited() -> None:
    t = np.arange(600) / FS
    pulse = np.sin(2 * np.pi * 1.2 * t)
    assert spectral_similarity(pulse, pulse, FS) == pytest.approx(1.0)
    assert spectral_similarity(pulse, 0.3 * pulse, FS) == pytest.approx(1.0)
    # Identical in band, very different out of band (5 Hz): still 1, since only 0.7-3 Hz counts.
    assert spectral_similarity(pulse, pulse + 3 * np.sin(2 * np.pi * 5 * t), FS) == pytest.approx(1.0, abs=1e-3)
    assert spectral_similarity(pulse, np.sin(2 * np.pi * 2.5 * t), FS) < 0.05


def test_windowed_hr_and_errors() -> None:
    t = np.arange(int(75 * FS)) / FS
    x = np.sin(2 * np.pi * 1.2 * t)
    hrs = windowed_hr(x, FS, 30.0)
    assert len(hrs) == 3 and np.allclose(hrs, 72.0, atol=0.5)  # 30 s + 30 s + 15 s
    assert len(windowed_hr(x[: int(10 * FS)], FS, 30.0)) == 1
    errs = hr_errors(np.array([70.0, 75.0, 80.0]), np.array([72.0, 75.0, 77.0]))
    assert errs.mae == pytest.approx(5 / 3) and errs.rmse == pytest.approx(np.sqrt(13 / 3)) and errs.windows == 3
    assert hr_errors(np.array([70.0]), np.array([71.0])).pearson == 0.0
