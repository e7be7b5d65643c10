"""Key-gated protection (``scramble``) and its restore through a meeting app's transport, as JSON + a table.

    python benchmarks/restore.py [--people 20] [--seconds 4] [--wrong-keys 3] [--json]

Clips: ``--people`` unseen people of lfw549 (one animated photo each, as benchmarks/unseen.py) and
the EVM face video (a real pulse) letterboxed into 1280x720. Each is protected by ``scramble`` with
a new key, sent through I420 + H.264 at 1.5 Mbit/s, and read as sent (``no key``), with the
marker ring filled in as a restore does (``no key, ring filled``: what an attacker who knows the
method sees without a key), restored with each of ``--wrong-keys`` other keys (a key-guessing
attacker; ``wrong_key_rank1_gain``: the best of them over no key), and restored with the key;
``transport alone`` is the raw video through the same transport (a restore's ceiling). Per way and recogniser: match rate against
the person's photos and rank-1 among the people (the attacker given the face location); the share
of frames whose face matches the raw frame's face (``same_as_raw``); face-crop PSNR against the raw
frames; the pulse's HR difference (POS, CHROM). ``restore_fps``: ``restore_frame`` alone at 720p.
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
    ways = ["transport alone", "no key", "no key, ring filled", *[f"wrong key {i + 1}" for i in range(args.wrong_keys)], "key"]
    results: dict[str, dict[str, list[ClipResult]]] = {g: {w: [] for w in ways} for g in ("people", "evm")}
    for group, clip in [("people", c) for c in clips] + [("evm", evm)]:
        raw = RawSide(clip)
        key = random_key()
        sent = transport(protect_clip(clip, lambda key=key: make_filter("scramble", key=key), analyses=raw.analyses), clip.fps)
        runs = {"transport alone": sent.with_output(h264_roundtrip(sent.raw, clip.fps)), "no key": sent, "no key, ring filled": ring_filled(sent)}
        runs |= {f"wrong key {i + 1}": restored(sent, random_key()) for i in range(args.wrong_keys)} | {"key": restored(sent, key)}
        for way, run in runs.items():
            results[group][way].append(measure_run(run, raw, attackers, judges, JUDGES))
    templates = templates_for(clips, results["people"]["key"], attackers)
    result: dict = {"people": len(clips), "seconds": args.seconds, "transport": "I420 + H.264 1.5 Mbit/s", "rank1_chance": 1 / len(clips), "ways": {}}
    for way in ways:
        people_results, evm_results = results["people"][way], results["evm"][way]
        s = summarise(people_results, people_results, templates, attackers)
        privacy = {n: {"match_rate": r["match_rate"], "rank1": r["rank1"]} for n, r in s["privacy"].items()}
        record = {
            "worst_match_rate": max(p["match_rate"] for p in privacy.values()),
            "worst_rank1": max(p["rank1"] for p in privacy.values()),
            "per_recogniser": privacy,
            "same_as_raw_people": same_as_raw(people_results, attackers),
            "same_as_raw_evm": same_as_raw(evm_results, attackers),
            "psnr_people_db": s["fidelity"]["crop_psnr"],
            "psnr_evm_db": float(np.mean([r.crop_psnr for r in evm_results])),
            **{f"dhr_{j}_people_bpm": s["utility"][j]["dhr_bpm"] for j in JUDGES},
            **{f"dhr_{j}_evm_bpm": float(np.mean([r.pulse[j]["dhr"] for r in evm_results])) for j in JUDGES},
        }
        record["least_same_as_raw"] = min(min(record["same_as_raw_people"].values()), min(record["same_as_raw_evm"].values()))
        result["ways"][way] = record
    wrong = [result["ways"][w]["worst_rank1"] for w in ways if w.startswith("wrong key")]
    result["wrong_key_rank1_gain"] = max(wrong) - result["ways"]["no key, ring filled"]["worst_rank1"]  # the best guessed key, told by an oracle
    result["restore_fps_720p"] = restore_fps(evm, random_key())
    columns = [
        ("worst_match_rate", "match", ".0%"),
        ("worst_rank1", "rank-1", ".0%"),
        ("least_same_as_raw", "same-as-raw", ".0%"),
        ("psnr_people_db", "PSNR ppl", ".1f"),
        ("psnr_evm_db", "PSNR EVM", ".1f"),
        ("dhr_pos_people_bpm", "dHR ppl", ".2f"),
        ("dhr_pos_evm_bpm", "dHR EVM", ".2f"),
    ]
    emit(result, result["ways"], columns, args.json, first="way")
    if not args.json:
        print(
            f"rank-1 chance {result['rank1_chance']:.0%}; the best of {args.wrong_keys} wrong keys gains "
            f"{result['wrong_key_rank1_gain']:+.0%} rank-1; restore {result['restore_fps_720p']:.0f} fps at 720p"
        )


if __name__ == "__main__":
    main()
