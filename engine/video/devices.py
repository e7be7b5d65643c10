"""Video devices of this machine (Linux V4L2, from sysfs): cameras to read from and v4l2loopback
devices to write to. Elsewhere both lists are empty (cameras are then chosen by index)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SYSFS = Path("/sys/class/video4linux")
LOOPBACK_HINTS = ("loopback", "dummy", "deid-vcam", "obs virtual")


@dataclass(frozen=True)
class VideoDevice:
    path: str  # e.g. /dev/video0
    name: str  # the driver's card name

    @property
    def loopback(self) -> bool:
        return any(h in self.name.lower() for h in LOOPBACK_HINTS)


def video_devices(sysfs: Path = SYSFS) -> list[VideoDevice]:
    """Every /dev/videoN with its name, sorted by N."""
    if not sysfs.is_dir():
        return []
    found = []
    for d in sysfs.iterdir():
        if d.name.startswith("video") and d.name[5:].isdigit():
            name_file = d / "name"
            name = name_file.read_text(errors="replace").strip() if name_file.is_file() else d.name
            found.append((int(d.name[5:]), VideoDevice(f"/dev/{d.name}", name)))
    return [dev for _, dev in sorted(found)]


def cameras(sysfs: Path = SYSFS) -> list[VideoDevice]:
    return [d for d in video_devices(sysfs) if not d.loopback]


def loopback_devices(sysfs: Path = SYSFS) -> list[VideoDevice]:
    return [d for d in video_devices(sysfs) if d.loopback]


def describe(sysfs: Path = SYSFS) -> str:
    """The cameras and virtual cameras of this machine as lines for a user, with what to do when
    either list is empty."""
    lines = ["cameras (--source):"]
    lines += [f"  {d.path}  {d.name}" for d in cameras(sysfs)] or ["  none found (--source demo or a video file still work)"]
    lines.append("virtual cameras (--vcam-device):")
    lines += [f"  {d.path}  {d.name}" for d in loopback_devices(sysfs)] or [
        "  none found: load v4l2loopback (vcam-run --sink virtualcam explains how), or use --sink preview or a file"
    ]
    return "\n".join(lines)
