"""Loaders for real rPPG datasets: PURE, UBFC-rPPG (DATASET_2) and a generic folder.

Every loader yields ``Recording`` s: RGB uint8 frames (read lazily), their timestamps, and the
contact-PPG ground truth with its own timestamps; ``ppg_at(times)`` resamples it onto frames.

Layouts (as the datasets ship them):
* PURE: ``<root>/<SS-TT>.json`` with ``/FullPackage`` (``Timestamp`` ns, ``Value.waveform``)
  and ``/Image`` (``Timestamp`` ns) lists, frames ``<root>/<SS-TT>/<SS-TT>/Image<ns>.png``.
* UBFC-rPPG: ``<root>/<subject>/vid.avi`` + ``ground_truth.txt`` (line 1 PPG, line 2 HR, line 3
  time in s).
* generic: ``<root>/<name>.<mp4|avi|mkv|mov>`` + ``<name>.csv`` with header ``time,ppg`` (s).
A folder in none of these layouts gives one ``VcamError`` naming what was expected.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from vcam.engine.errors import VcamError

VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov")


@dataclass
class Recording:
    name: str
    subject: str
    frame_times: np.ndarray  # seconds from the recording's start
    ppg_times: np.ndarray
    ppg: np.ndarray
    read_frames: Callable[[], Iterator[np.ndarray]]

    @property
    def fps(self) -> float:
        return float((len(self.frame_times) - 1) / (self.frame_times[-1] - self.frame_times[0]))

    def ppg_at(self, times: np.ndarray | None = None) -> np.ndarray:
        """Ground-truth PPG linearly resampled at ``times`` (default: the frame times)."""
        return np.interp(self.frame_times if times is None else times, self.ppg_times, self.ppg)

    def frames(self) -> Iterator[np.ndarray]:
        return self.read_frames()


def _video_frames(path: Path) -> Callable[[], Iterator[np.ndarray]]:
    def read() -> Iterator[np.ndarray]:
        cap = cv2.VideoCapture(str(path))
        try:
            while True:
                ok, bgr = cap.read()
                if not ok:
                    return
                yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        finally:
            cap.release()

    return read


def _video_times(path: Path) -> np.ndarray:
    cap = cv2.VideoCapture(str(path))
    fps, n = cap.get(cv2.CAP_PROP_FPS), int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    cap.release()
    if not fps or n <= 0:
        raise VcamError(f"cannot read video {path}")
    return np.arange(n) / fps


def load_pure(root: Path) -> list[Recording]:
    recordings = []
    for meta in sorted(Path(root).glob("*.json")):
        name = meta.stem
        frame_dir = Path(root) / name / name
        data = json.loads(meta.read_text())
        images = sorted(frame_dir.glob("Image*.png"))
        if not images or "/FullPackage" not in data:
            raise VcamError(f"{meta}: not a PURE session (expected /FullPackage in the JSON and frames in {frame_dir})")
        t0 = data["/Image"][0]["Timestamp"]
        frame_times = np.array([(int(p.stem[5:]) - t0) / 1e9 for p in images])
        ppg_times = np.array([(e["Timestamp"] - t0) / 1e9 for e in data["/FullPackage"]])
        ppg = np.array([e["Value"]["waveform"] for e in data["/FullPackage"]], np.float64)

        def read(images: list[Path] = images) -> Iterator[np.ndarray]:
            for p in images:
                yield cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB)

        recordings.append(Recording(name, name.split("-")[0], frame_times, ppg_times, ppg, read))
    return recordings


def load_ubfc(root: Path) -> list[Recording]:
    recordings = []
    for gt in sorted(Path(root).glob("*/ground_truth.txt")):
        video = gt.parent / "vid.avi"
        rows = [np.array(line.split(), np.float64) for line in gt.read_text().splitlines() if line.strip()]
        if not video.is_file() or len(rows) < 3:
            raise VcamError(f"{gt.parent}: not a UBFC-rPPG subject (expected vid.avi and a 3-line ground_truth.txt)")
        recordings.append(Recording(gt.parent.name, gt.parent.name, _video_times(video), rows[2] - rows[2][0], rows[0], _video_frames(video)))
    return recordings


def load_generic(root: Path) -> list[Recording]:
    recordings = []
    for video in sorted(p for p in Path(root).iterdir() if p.suffix.lower() in VIDEO_SUFFIXES):
        table = video.with_suffix(".csv")
        if not table.is_file():
            continue
        with table.open(newline="") as f:
            reader = csv.DictReader(f)
            if reader.fieldnames is None or not {"time", "ppg"} <= set(reader.fieldnames):
                raise VcamError(f"{table}: expected a header with columns time,ppg")
            rows = [(float(r["time"]), float(r["ppg"])) for r in reader]
        t, ppg = np.array(rows).T
        recordings.append(Recording(video.stem, video.stem, _video_times(video), t - t[0], ppg, _video_frames(video)))
    return recordings


LOADERS = {"pure": load_pure, "ubfc": load_ubfc, "generic": load_generic}


def load_dataset(root: Path, kind: str = "auto") -> list[Recording]:
    """Recordings under ``root``; ``kind`` "auto" tries PURE, UBFC-rPPG, then generic."""
    root = Path(root)
    if not root.is_dir():
        raise VcamError(f"dataset folder not found: {root}")
    kinds = list(LOADERS) if kind == "auto" else [kind]
    for k in kinds:
        if k not in LOADERS:
            raise VcamError(f"unknown dataset kind {k!r}; choose {', '.join(LOADERS)} or auto")
        found = LOADERS[k](root)
        if found:
            return found
    raise VcamError(
        f"{root}: no recordings found (expected PURE <session>.json + frames, UBFC-rPPG <subject>/vid.avi + ground_truth.txt, or <name>.mp4 + <name>.csv)"
    )
