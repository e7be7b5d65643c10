"""Key-gated protection (``scramble``) and its restore through a meeting app's transport, as JSON + a table.

    python benchmarks/restore.py [--people 20] [--seconds 4] [--wrong-keys 3] [--json]

Clips: ``--people`` unseen people of lfw549 (one animated photo each, as benchmarks/unseen.py) and
the EVM face video (a real pulse) letterboxed into 1280x720. Each is protected by ``scramble`` with
a new key, sent through I420 + H.264 at 1.5 Mbit/s, and read four ways: as sent (``no key``), with
the marker ring filled in as a restore does (``no key, ring filled``: what an attacker who knows
the method sees without a key), restored with ``--wrong-keys`` other keys (a key-guessing attacker who knows the method; the best
of its keys per recogniser), and restored with the key. Per way and recogniser: match rate against
the person's photos and rank-1 among the people (the attacker given the face location); the share
of frames whose face matches the raw frame's face (``same_as_raw``); face-crop PSNR against the raw
frames; the pulse's HR difference (POS, CHROM). ``codec_psnr_db``: the raw frames through the same
transport, the ceiling of a restore. ``restore_fps``: ``restore_frame`` alone at 720p.
Reads ../shared/data (test data; the product never does).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from vcam.engine.filters import make_filter
from vcam.engine.keyed.keys import Key, random_key
from vcam.engine.keyed.restore import restore_frame
from vcam.engine.keyed.scramble import BlockScramble
from vcam.engine.recognisers import RECOGNISERS
from vcam.engine.video.sinks import letterbox
from vcam.models.evaluation import fidelity
from vcam.models.evaluation.clips import EvalClip, photo_clips, video_clip
from vcam.models.evaluation.evaluate import ClipResult, RawSide, measure_run, templates_for
from vcam.models.evaluation.keyed import restored, ring_filled, same_as_raw
from vcam.models.evaluation.protect import h264_roundtrip, protect_clip, transport
from vcam.models.evaluation.report import summarise
from vcam.models.evaluation.utility import PulseJudges

from table import emit
from unseen import people

EVM = Path(__file__).resolve().parents[2] / "shared" / "data" / "video" / "evm" / "face.mp4"
JUDGES = ("pos", "chrom")
WAYS = ("no key", "no key, ring filled", "wrong key", "key")


def restore_fps(clip: EvalClip, key: Key, frames: int = 60) -> float:
    run = protect_clip(clip, lambda: make_filter("scramble", key=key))
    scramble = BlockScramble(key)
    images = run.out[:frames]
    started = time.perf_counter()
    for image in images:
        restore_frame(image, scramble)
    return len(images) / (time.perf_counter() - started)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--people", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--wrong-keys", type=int, default=3)
    ap.add_argument("--json", action="store_true", help="print JSON only")
    args = ap.parse_args()
    clips = photo_clips(people(args.people), seconds=args.seconds, per_identity=1, other_photos=True)
    evm = video_clip(EVM, args.seconds * 2)
    evm = EvalClip("evm-720p", [letterbox(f, 1280, 720) for f in evm.frames], evm.fps, evm.identity)
    attackers = {name: make() for name, make in RECOGNISERS.items()}
    judges = PulseJudges()
    ways: dict[str, dict[str, list[ClipResult]]] = {"people": {w: [] for w in WAYS}, "evm": {w: [] for w in WAYS}}
    wrong_by_key: list[list[ClipResult]] = [[] for _ in range(args.wrong_keys)]
    codec: dict[str, list[float]] = {"people": [], "evm": []}
    for group, clip in [("people", c) for c in clips] + [("evm", evm)]:
        raw = RawSide(clip)
        key = random_key()
        sent = transport(protect_clip(clip, lambda key=key: make_filter("scramble", key=key), analyses=raw.analyses), clip.fps)
        wrongs = [measure_run(restored(sent, random_key()), raw, attackers, judges, JUDGES) for _ in range(args.wrong_keys)]
        for i, result in enumerate(wrongs):
            if group == "people":
                wrong_by_key[i].append(result)
        ways[group]["no key"].append(measure_run(sent, raw, attackers, judges, JUDGES))
        ways[group]["no key, ring filled"].append(measure_run(ring_filled(sent), raw, attackers, judges, JUDGES))
        ways[group]["wrong key"].append(wrongs[0])
        ways[group]["key"].append(measure_run(restored(sent, key), raw, attackers, judges, JUDGES))
        through = sent.with_output(h264_roundtrip(sent.raw, clip.fps))
        raw_crops, codec_crops, _ = through.crops()
        codec[group].append(fidelity.psnr(raw_crops, codec_crops))
    templates = templates_for(clips, ways["people"]["key"], attackers)
    result: dict = {"people": len(clips), "seconds": args.seconds, "transport": "I420 + H.264 1.5 Mbit/s", "wrong_keys": args.wrong_keys, "ways": {}}
    rows = {}
    for way in WAYS:
        s = summarise(ways["people"][way], ways["people"][way], templates, attackers)
        privacy = {n: {"match_rate": r["match_rate"], "rank1": r["rank1"]} for n, r in s["privacy"].items()}
        if way == "wrong key":  # the attacker keeps the best of its keys, per recogniser
            tries = [summarise(res, res, templates, attackers)["privacy"] for res in wrong_by_key]
            privacy = {n: {m: max(t[n][m] for t in tries) for m in ("match_rate", "rank1")} for n in attackers}
        record = {
            "worst_match_rate": max(p["match_rate"] for p in privacy.values()),
            "worst_rank1": max(p["rank1"] for p in privacy.values()),
            "rank1_chance": 1 / len(clips),
            "per_recogniser": privacy,
            "same_as_raw_people": same_as_raw(ways["people"][way], attackers),
            "same_as_raw_evm": same_as_raw(ways["evm"][way], attackers),
            "psnr_people_db": s["fidelity"]["crop_psnr"],
            "psnr_evm_db": float(np.mean([r.crop_psnr for r in ways["evm"][way]])),
            **{f"dhr_{j}_people_bpm": s["utility"][j]["dhr_bpm"] for j in JUDGES},
            **{f"dhr_{j}_evm_bpm": float(np.mean([r.pulse[j]["dhr"] for r in ways["evm"][way]])) for j in JUDGES},
        }
        record["least_same_as_raw"] = min(min(record["same_as_raw_people"].values()), min(record["same_as_raw_evm"].values()))
        result["ways"][way] = record
        rows[way] = record
    result["codec_psnr_people_db"] = float(np.mean(codec["people"]))
    result["codec_psnr_evm_db"] = float(np.mean(codec["evm"]))
    result["restore_fps_720p"] = restore_fps(evm, random_key())
    columns = [
        ("worst_match_rate", "match", ".0%"),
        ("worst_rank1", "rank-1", ".0%"),
        ("least_same_as_raw", "same-as-raw", ".0%"),
        ("psnr_people_db", "PSNR ppl", ".1f"),
        ("psnr_evm_db", "PSNR EVM", ".1f"),
        ("dhr_pos_evm_bpm", "dHR EVM", ".2f"),
    ]
    emit(result, rows, columns, args.json, first="way")
    if not args.json:
        print(
            f"codec alone: PSNR {result['codec_psnr_people_db']:.1f} (people) / {result['codec_psnr_evm_db']:.1f} (EVM 720p) dB; "
            f"restore {result['restore_fps_720p']:.0f} fps at 720p; rank-1 chance {1 / len(clips):.0%}"
        )


if __name__ == "__main__":
    main()
