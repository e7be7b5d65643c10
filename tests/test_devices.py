"""V4L2 device discovery from a sysfs tree laid out like Linux's /sys/class/video4linux."""

import subprocess
import sys

from vcam.engine.video.devices import cameras, describe, loopback_devices, video_devices


def test_cameras_and_loopback_devices_are_told_apart(tmp_path) -> None:
    for n, name in ((0, "Integrated Camera: Integrated C"), (1, "Integrated Camera: Integrated C"), (10, "deid-vcam"), (11, "Dummy video device (0x0000)")):
        (tmp_path / f"video{n}").mkdir()
        (tmp_path / f"video{n}" / "name").write_text(name + "\n")
    (tmp_path / "v4l-subdev0").mkdir()
    assert [d.path for d in video_devices(tmp_path)] == ["/dev/video0", "/dev/video1", "/dev/video10", "/dev/video11"]
    assert [d.path for d in cameras(tmp_path)] == ["/dev/video0", "/dev/video1"]
    assert [d.path for d in loopback_devices(tmp_path)] == ["/dev/video10", "/dev/video11"]
    assert video_devices(tmp_path / "absent") == []


def test_the_device_list_names_each_device_and_what_to_do_without_one(tmp_path) -> None:
    for n, name in ((0, "Integrated Camera"), (10, "Dummy video device (0x0000)")):
        (tmp_path / f"video{n}").mkdir()
        (tmp_path / f"video{n}" / "name").write_text(name + "\n")
    text = describe(tmp_path)
    assert "/dev/video0  Integrated Camera" in text.split("virtual cameras")[0] and "/dev/video10  Dummy" in text.split("virtual cameras")[1]
    empty = describe(tmp_path / "absent")
    assert "none found (--source demo" in empty and "load v4l2loopback" in empty
    res = subprocess.run([sys.executable, "-m", "vcam.app.run_cli", "--list-devices"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and res.stdout.startswith("cameras (--source):") and "virtual cameras (--vcam-device):" in res.stdout, res.stderr
