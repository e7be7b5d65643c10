"""V4L2 device discovery from a sysfs tree laid out like Linux's /sys/class/video4linux."""

from vcam.engine.video.devices import cameras, loopback_devices, video_devices


def test_cameras_and_loopback_devices_are_told_apart(tmp_path) -> None:
    for n, name in ((0, "Integrated Camera: Integrated C"), (1, "Integrated Camera: Integrated C"), (10, "deid-vcam"), (11, "Dummy video device (0x0000)")):
        (tmp_path / f"video{n}").mkdir()
        (tmp_path / f"video{n}" / "name").write_text(name + "\n")
    (tmp_path / "v4l-subdev0").mkdir()
    assert [d.path for d in video_devices(tmp_path)] == ["/dev/video0", "/dev/video1", "/dev/video10", "/dev/video11"]
    assert [d.path for d in cameras(tmp_path)] == ["/dev/video0", "/dev/video1"]
    assert [d.path for d in loopback_devices(tmp_path)] == ["/dev/video10", "/dev/video11"]
    assert video_devices(tmp_path / "absent") == []
