"""Key-gated, reversible protection (``scramble`` + ``vcam-restore``): the key file, the scramble's
geometry, and UU-Net's properties on real faces after a meeting app's transport (I420 + H.264 at
1.5 Mbit/s): de-identified, recoverable with the key, not without it, no better with a wrong key,
temporally consistent, the pulse kept."""

from __future__ import annotations

import stat
from dataclasses import dataclass

import cv2
import numpy as np
import pytest

from vcam.engine.errors import ConfigError
from vcam.engine.filters import make_filter
from vcam.engine.frames import Frame
from vcam.engine.keyed.keys import KeyFileError, create_key_file, load_key, random_key
from vcam.engine.keyed.restore import key_opens, restore_frame
from vcam.engine.keyed.scramble import BLOCKS, GRID, MARKER_RGB, BlockScramble, Square, draw, find_squares, marker_box, square_for
from vcam.engine.pipeline import Pipeline, PipelineConfig, obscure_frame
from vcam.engine.recognisers import RECOGNISERS, Recogniser
from vcam.engine.video.sinks import NullSink, letterbox
from vcam.engine.video.sources import ArraySource
from vcam.models.evaluation import fidelity
from vcam.models.evaluation.clips import EvalClip, photo_clips, video_clip
from vcam.models.evaluation.evaluate import ClipResult, RawSide, measure_run
from vcam.models.evaluation.keyed import restored, ring_filled, same_as_raw
from vcam.models.evaluation.protect import ProtectedRun, h264_roundtrip, protect_clip, transport
from vcam.models.evaluation.utility import PulseJudges

from conftest import EVM_VIDEO, lfw549_people, need

# -- the key file ----------------------------------------------------------------------------


def test_a_key_file_is_private_never_overwritten_and_never_shown(tmp_path) -> None:
    path = tmp_path / "keys" / "call.key"
    key = create_key_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert load_key(path) == key and len(key.secret) == 32
    assert key.secret.hex() not in repr(key) + str(key) and key.fingerprint in repr(key)
    before = path.read_bytes()
    with pytest.raises(KeyFileError, match="never overwritten"):
        create_key_file(path)
    assert path.read_bytes() == before
    assert create_key_file(tmp_path / "other.key") != key  # random, not derived from anything


def test_a_key_file_open_to_others_missing_or_not_a_key_is_refused_with_the_fix(tmp_path) -> None:
    path = tmp_path / "k.key"
    create_key_file(path)
    path.chmod(0o644)
    with pytest.raises(KeyFileError, match="chmod 600"):
        load_key(path)
    with pytest.raises(KeyFileError, match="vcam-key new"):
        load_key(tmp_path / "missing.key")
    junk = tmp_path / "junk.key"
    junk.write_text("hello\n")
    junk.chmod(0o600)
    with pytest.raises(KeyFileError, match="not a deid-vcam key file"):
        load_key(junk)


# -- the scramble ------------------------------------------------------------------------------


def test_the_scramble_is_undone_exactly_by_its_key_only_and_keeps_the_mean_colour() -> None:
    rng = np.random.default_rng(0)
    square = rng.integers(0, 256, (BLOCKS * 16, BLOCKS * 16, 3), dtype=np.uint8)
    key = random_key()
    scrambled = BlockScramble(key).apply(square)
    assert np.array_equal(BlockScramble(key).undo(scrambled), square)  # the same key, a new object: the same scramble
    assert np.mean(BlockScramble(random_key()).undo(scrambled) != square) > 0.9
    assert np.mean(scrambled != square) > 0.9
    assert np.array_equal(scrambled.reshape(-1, 3).sum(0), square.reshape(-1, 3).sum(0))  # blocks moved, none changed


def test_squares_lie_on_the_codec_grid_cover_the_face_and_rarely_jump() -> None:
    shape = (720, 1280, 3)
    for face, at_edge in [((600, 300, 700, 420), False), ((10, 10, 200, 230), False), ((900, 100, 1275, 560), True), ((500, 200, 505, 204), False)]:
        sq = square_for(face, shape)
        x, y, s, r = int(sq.x), int(sq.y), int(sq.side), int(sq.ring)
        assert x % GRID == 0 and y % GRID == 0 and s % (BLOCKS * GRID) == 0 and sq.block >= 2 * GRID
        assert x - r >= 0 and y - r >= 0 and x + s + r <= shape[1] and y + s + r <= shape[0]
        x0, y0, x1, y1 = marker_box(sq, shape)
        assert x0 <= face[0] and y0 <= face[1] and face[2] <= x1 and face[3] <= y1  # the marked area hides the face
        inside = x <= face[0] and y <= face[1] and face[2] <= x + s and face[3] <= y + s
        assert inside != at_edge  # only a face at the frame's edge reaches past its square (into the marker)
    first = square_for((600, 300, 700, 420), shape)
    assert square_for((603, 302, 703, 422), shape, first) == first  # a small move keeps the square
    assert square_for((640, 300, 740, 420), shape, first) != first
    with pytest.raises(ValueError, match="too large"):
        square_for((0, 0, 1000, 715), shape)


def test_a_marked_square_is_found_and_restored_exactly_and_rescaled_approximately() -> None:
    rng = np.random.default_rng(1)
    image = cv2.resize(rng.integers(0, 200, (45, 80, 3), dtype=np.uint8), (1280, 720), interpolation=cv2.INTER_CUBIC)  # smooth, like a photo
    key = random_key()
    protected = image.copy()
    square = square_for((500, 200, 700, 420), image.shape)
    draw(protected, square, BlockScramble(key))
    assert find_squares(protected) == [square]
    restored = restore_frame(protected, BlockScramble(key), measure=True)
    rows, cols = square.slices()
    assert np.array_equal(restored.image[rows, cols], image[rows, cols])
    assert restored.seams_after[0] < 0.5 * restored.seams_before[0]
    edge = image.copy()
    at_edge = square_for((1000, 300, 1280, 560), edge.shape)
    draw(edge, at_edge, BlockScramble(key))
    assert find_squares(edge) == [at_edge] and (edge[300:560, -6:] == MARKER_RGB).all()
    small = cv2.resize(protected, (768, 432), interpolation=cv2.INTER_AREA)  # a recording at 0.6 the size
    found = find_squares(small)
    assert len(found) == 1 and not found[0].on_grid() and abs(found[0].side - 0.6 * square.side) <= 1.5
    again = restore_frame(small, BlockScramble(key)).image
    face = (slice(int(0.6 * square.y) + 2, int(0.6 * (square.y + square.side)) - 2), slice(int(0.6 * square.x) + 2, int(0.6 * (square.x + square.side)) - 2))
    expected = cv2.resize(image, (768, 432), interpolation=cv2.INTER_AREA)
    assert fidelity.psnr(again[face], expected[face]) > 27 > 15 > fidelity.psnr(small[face], expected[face])  # 29-32 dB over keys


# -- the filter in the pipeline ----------------------------------------------------------------


def test_a_face_too_large_for_a_square_hides_the_whole_frame() -> None:
    frames = video_clip(need(EVM_VIDEO), 0.2).frames
    tight = [f[60:560, 20:510].copy() for f in frames]  # the face fills the frame
    with Pipeline(ArraySource(tight), NullSink(), make_filter("scramble", key=random_key()), PipelineConfig(rppg=False, identity=False)) as pipe:
        result = pipe.process(Frame(0, 0.0, tight[0]))
    assert result.fallback is not None and np.array_equal(result.output, obscure_frame(tight[0]))


def test_the_filter_needs_a_key_and_only_keyed_filters_take_one(tmp_path) -> None:
    from vcam.app.config import resolve

    with pytest.raises(Exception, match="needs a key"):
        make_filter("scramble")
    key_file = tmp_path / "k.key"
    create_key_file(key_file)
    empty = tmp_path / "config.toml"
    empty.write_text("")
    assert resolve({"key_file": str(key_file)}, empty).filter == "scramble"  # a key alone picks the keyed filter
    with pytest.raises(ConfigError, match="no key can undo"):
        resolve({"key_file": str(key_file), "filter": "blur"}, empty)
    with pytest.raises(ConfigError, match="--key-file"):
        resolve({"filter": "scramble"}, empty)


# -- UU-Net's properties on real faces, after the transport --------------------------------------


@dataclass
class Ways:
    clip: EvalClip
    raw: RawSide
    codec: ProtectedRun  # the raw frames through the same transport: a restore's ceiling
    results: dict[str, ClipResult]
    attackers: dict[str, Recogniser]

    def same_as_raw(self, way: str) -> dict[str, float]:
        return same_as_raw([self.results[way]], self.attackers)


@pytest.fixture(scope="module")
def ways(tmp_path_factory: pytest.TempPathFactory) -> list[Ways]:
    evm = video_clip(need(EVM_VIDEO), 3.0)
    clips = [EvalClip("evm-720p", [letterbox(f, 1280, 720) for f in evm.frames], evm.fps, evm.identity)]
    clips += photo_clips(lfw549_people(tmp_path_factory.mktemp("people"), 3), seconds=3.0, per_identity=1)
    attackers = {name: make() for name, make in RECOGNISERS.items()}
    judges = PulseJudges()
    out = []
    for clip in clips:
        raw = RawSide(clip)
        key = random_key()
        sent = transport(protect_clip(clip, lambda key=key: make_filter("scramble", key=key), analyses=raw.analyses), clip.fps)
        runs = {"no key": ring_filled(sent), "wrong key": restored(sent, random_key()), "key": restored(sent, key)}
        results = {way: measure_run(run, raw, attackers, judges, ("pos",), every=6) for way, run in runs.items()}
        out.append(Ways(clip, raw, sent.with_output(h264_roundtrip(sent.raw, clip.fps)), results, attackers))
    return out


@pytest.mark.slow
def test_without_the_key_no_recogniser_finds_the_face_and_a_wrong_key_does_not_help(ways) -> None:
    for w in ways:
        no_key, wrong = w.same_as_raw("no key"), w.same_as_raw("wrong key")
        assert max(no_key.values()) <= 0.1, (w.clip.name, no_key)
        assert max(wrong.values()) <= max(no_key.values()) + 0.05, (w.clip.name, wrong, no_key)


@pytest.mark.slow
def test_with_the_key_every_recogniser_knows_the_face_and_the_pixels_come_back(ways) -> None:
    for w in ways:
        restored = w.results["key"]
        assert min(w.same_as_raw("key").values()) >= 0.95, (w.clip.name, w.same_as_raw("key"))
        raw_crops, codec_crops, _ = w.codec.crops()
        codec_psnr = fidelity.psnr(raw_crops, codec_crops)
        assert restored.crop_psnr >= 33 and restored.crop_psnr >= codec_psnr - 2.5, (w.clip.name, restored.crop_psnr, codec_psnr)


@pytest.mark.slow
def test_the_restored_video_is_as_steady_as_the_transport_and_keeps_the_pulse(ways) -> None:
    for w in ways:
        raw_crops, codec_crops, _ = w.codec.crops()
        restored_flicker, codec_flicker = w.results["key"].flicker, fidelity.flicker(raw_crops, codec_crops)
        assert restored_flicker <= codec_flicker + 0.5, (w.clip.name, restored_flicker, codec_flicker)
    evm = ways[0].results["key"].pulse["pos"]
    assert evm["dhr"] <= 3.0, evm  # the EVM video's real pulse, read by POS on raw and restored faces


@pytest.mark.slow
def test_a_wrong_key_is_told_from_the_right_one(ways) -> None:
    sent = ways[0]
    key = random_key()
    run = protect_clip(sent.clip, lambda: make_filter("scramble", key=key), analyses=sent.raw.analyses)
    decoded = h264_roundtrip(run.out[:30], sent.clip.fps)
    assert key_opens(ArraySource(decoded), BlockScramble(key)) is True
    assert key_opens(ArraySource(decoded), BlockScramble(random_key())) is False
    assert key_opens(ArraySource(sent.raw.clip.frames[:10]), BlockScramble(key)) is None
    assert all(len(find_squares(image)) == 1 for image in decoded)
    assert isinstance(find_squares(decoded[0])[0], Square)
