"""Pulse privacy, live: hide the user's heart rate or show a chosen one instead, per face track,
after any identity filter (``off`` included).

The skin colour of each face (``face_regions.skin_colour``: normalised convolution over the skin,
on a coarse grid in crop coordinates, so it follows the face) is split causally into its slow
trend (a 4th-order Butterworth low-pass at ``TREND_HZ``, below the heart-rate band) and the rest,
which holds the pulse. Each crop pixel is scaled so its smoothed colour is the trend plus, in the
skin's blood-volume colour direction, a new signal at the strength of a pulse: for ``replace`` a
synthetic pulse at the target heart rate (``synth.PulseSynth``: a contact-PPG-like beat with
respiratory variability); for ``hide`` unpredictable heart-rate-band noise (``synth.BandNoise``),
which buries what the removal leaves (the skin colour is measured on the skin, but the gain reaches
the eyes, brows and lips too, where it writes a faint inverted pulse if they do not pulse). ``hide``
removes ``1 + HIDE_OVERSHOOT`` times the colour change: a video codec keeps less of a sub-level edit
than of the camera's own pulse, so an exact removal lets part of the pulse back after encoding, while
the small inverted remainder in the unencoded picture stays under the noise. The noise is at least a
pulse's strength and ``MASK_RATIO`` times the face's own colour change in the heart-rate band (its
RMS over the last seconds), up to ``MASK_MAX`` times a pulse's: a strong pulse needs a stronger cover.
The gain is limited to ±``MAX_GAIN`` so a fast change of light is smoothed, never blown out.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy import signal

from vcam.engine.face_regions import skin_colour
from vcam.engine.pulse.modes import PULSE_MODES, TARGET_HR_RANGE
from vcam.engine.pulse.signals import HR_BAND_HZ
from vcam.engine.pulse.synth import PULSE_RMS, SKIN_PULSE_DIRECTION, BandNoise, PulseSynth

TREND_HZ = 0.35
MAX_GAIN = 0.1
PULSE_AMPLITUDE = 0.015  # relative peak-to-peak skin colour change of the embedded pulse (green: x 0.77)
MASK_RATIO, MASK_MAX, MASK_MEMORY_S = 2.0, 3.0, 3.0  # hide's noise vs the face's varying colour
HIDE_OVERSHOOT = 0.1


@dataclass
class _Track:
    state: np.ndarray  # the low-pass filter's state per grid value
    synth: PulseSynth | BandNoise
    band: np.ndarray  # the heart-rate band-pass's state for the skin's mean green
    varying: float = 0.0  # recent mean square of the skin's relative green in the heart-rate band


class PulseEditor:
    """Edits face crops of each track; ``mode`` is one of ``PULSE_MODES`` (not ``keep``), ``target_bpm``
    the heart rate ``replace`` shows, ``fps`` the stream's nominal rate (the trend filter's design rate);
    ``seed`` fixes ``hide``'s noise (None: fresh entropy per track, the runtime's choice);
    ``amplitude`` the relative peak-to-peak strength of the signal shown (noise: the same RMS);
    ``overshoot`` the share removed beyond the colour change (None: ``HIDE_OVERSHOOT`` for ``hide``, 0
    for ``replace``). ``amplitude=0, overshoot=0`` is the removal alone: the face without its pulse."""

    def __init__(
        self,
        mode: str,
        target_bpm: float = 72.0,
        fps: float = 30.0,
        sigma: float = 12.0,
        grid: int = 16,
        seed: int | None = None,
        amplitude: float = PULSE_AMPLITUDE,
        overshoot: float | None = None,
    ) -> None:
        if mode not in PULSE_MODES[1:]:
            raise ValueError(f"pulse mode must be hide or replace, got {mode!r}")
        if not TARGET_HR_RANGE[0] <= target_bpm <= TARGET_HR_RANGE[1]:
            raise ValueError(f"target heart rate must be between {TARGET_HR_RANGE[0]:g} and {TARGET_HR_RANGE[1]:g} bpm")
        self.mode, self.target_bpm, self.sigma, self.grid, self.fps, self.seed, self.amplitude = mode, target_bpm, sigma, grid, fps, seed, amplitude
        self.overshoot = (HIDE_OVERSHOOT if mode == "hide" else 0.0) if overshoot is None else overshoot
        self._sos = signal.butter(4, TREND_HZ, fs=fps, output="sos")
        self._zi = signal.sosfilt_zi(self._sos)[:, None, :]  # per unit input, broadcast over the grid
        self._band = signal.butter(2, HR_BAND_HZ, btype="bandpass", fs=fps, output="sos")
        self._tracks: dict[int, _Track] = {}

    def edit(self, crop: np.ndarray, landmarks: np.ndarray, track_id: int, t: float) -> np.ndarray:
        """``crop`` (float32 (S, S, 3) in [0, 1]) with its pulse hidden or replaced; ``landmarks`` in
        crop pixels; ``t`` the frame's time in seconds."""
        colour = skin_colour(crop, landmarks[:, :2], self.sigma, self.grid, upsample=False)
        flat = colour.reshape(-1)
        track = self._tracks.get(track_id)
        if track is None:
            track = self._tracks[track_id] = _Track(self._zi * flat[None, :, None], self._new_signal(track_id), np.zeros((len(self._band), 2)))
        trend, track.state = signal.sosfilt(self._sos, flat[:, None], axis=1, zi=track.state)
        trend = trend[:, 0].reshape(colour.shape)
        wanted = trend * (1.0 + self.amplitude * self._scale(track, colour, trend) * track.synth.step(t) * SKIN_PULSE_DIRECTION)
        wanted -= self.overshoot * (colour - trend)
        gain = np.clip(wanted / np.maximum(colour, 1e-4), 1 - MAX_GAIN, 1 + MAX_GAIN)
        gain = cv2.resize(gain.astype(np.float32), crop.shape[1::-1], interpolation=cv2.INTER_LINEAR)
        return np.clip(crop * gain, 0.0, 1.0).astype(np.float32)

    def _scale(self, track: _Track, colour: np.ndarray, trend: np.ndarray) -> float:
        """How many times a pulse's strength ``hide``'s noise is now (1 for ``replace``)."""
        if self.mode == "replace" or self.amplitude == 0:
            return 1.0
        rel = float(np.mean(colour[..., 1] / np.maximum(trend[..., 1], 1e-4))) - 1.0
        inband, track.band = signal.sosfilt(self._band, [rel], zi=track.band)
        track.varying += (float(inband[0]) ** 2 - track.varying) / (MASK_MEMORY_S * self.fps)
        pulse_rms = self.amplitude * PULSE_RMS * float(SKIN_PULSE_DIRECTION[1])
        return float(np.clip(MASK_RATIO * np.sqrt(track.varying) / pulse_rms, 1.0, MASK_MAX))

    def _new_signal(self, track_id: int) -> PulseSynth | BandNoise:
        if self.mode == "replace":
            return PulseSynth(self.target_bpm, seed=track_id)
        return BandNoise(self.fps, None if self.seed is None else (self.seed, track_id))

    def forget(self, live_ids: set[int]) -> None:
        for tid in set(self._tracks) - live_ids:
            del self._tracks[tid]
