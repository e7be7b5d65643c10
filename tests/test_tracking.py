import numpy as np

from vcam.engine.crop import crop_face
from vcam.engine.tracking import FaceTracker, transform_points

from conftest import EVM_VIDEO, FR_EXAMPLES, LFW, need, read_rgb, read_video


def test_finds_every_lfw10_face() -> None:
    paths = sorted(need(LFW).glob("*/*.jpg"))
    assert len(paths) == 100
    with FaceTracker(static=True) as tracker:
        found = [len(tracker.update(read_rgb(p))) for p in paths]
    assert all(n >= 1 for n in found)


def test_finds_both_faces_in_a_group_photo() -> None:
    with FaceTracker(max_faces=4, static=True) as tracker:
        tracks = tracker.update(read_rgb(FR_EXAMPLES / "two_people.jpg"))
    assert len(tracks) == 2
    assert tracks[0].track_id != tracks[1].track_id
    (ax0, _, ax1, _), (bx0, _, bx1, _) = tracks[0].box, tracks[1].box
    assert ax1 <= bx0 or bx1 <= ax0  # side by side, not the same face twice


def test_crop_contract_and_masks() -> None:
    img = read_rgb(FR_EXAMPLES / "obama.jpg")
    with FaceTracker(static=True) as tracker:
        (track,) = tracker.update(img)
    crop = crop_face(img, track)
    assert crop.shape == (128, 128, 3) and crop.dtype == np.float32
    assert 0.0 <= crop.min() and crop.max() <= 1.0
    assert track.blend_mask.shape == (128, 128) and track.skin_mask.dtype == bool
    assert 1500 < track.skin_mask.sum() < 9000
    # Skin lies inside the blend region, and the eyes are cut out of it.
    assert track.blend_mask[track.skin_mask].min() > 0.9
    eye = transform_points(track.matrix, track.landmarks[[33, 263]]).round().astype(int)
    assert not track.skin_mask[eye[:, 1], eye[:, 0]].any()


def test_crop_is_upright_eyes_level() -> None:
    img = read_rgb(FR_EXAMPLES / "obama.jpg")
    h, w = img.shape[:2]
    import cv2

    rotated = cv2.warpAffine(img, cv2.getRotationMatrix2D((w / 2, h / 2), 20, 1.0), (w, h))
    with FaceTracker(static=True) as tracker:
        (track,) = tracker.update(rotated)
    eyes = transform_points(track.matrix, track.landmarks[[33, 263]])
    assert abs(eyes[0, 1] - eyes[1, 1]) < 3.0


def test_track_id_and_crop_are_stable_over_a_real_video() -> None:
    frames = read_video(EVM_VIDEO, limit=90)
    ids, centres = set(), []
    with FaceTracker(max_faces=2) as tracker:
        for img in frames:
            tracks = tracker.update(img)
            assert len(tracks) == 1
            ids.add(tracks[0].track_id)
            centres.append(tracks[0].matrix[:, 2].copy())
    assert len(ids) == 1
    jitter = np.abs(np.diff(np.array(centres), axis=0)).max()
    assert jitter < 4.0


def test_no_face_gives_no_tracks() -> None:
    with FaceTracker() as tracker:
        assert tracker.update(np.full((240, 320, 3), 128, np.uint8)) == []
