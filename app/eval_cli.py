"""``vcam-eval``: the paper's evaluation protocol for any filter on any dataset.

    vcam-eval --dataset PATH [--dataset PATH ...] --filters deid,blur,pixelate,off [--model M] [--strength S]
              [--auto-strength] [--pulse keep|hide|replace [--target-hr BPM]] --out report/

Each ``--dataset`` is a video file, a folder of identity-labelled photos (each photo animated into
a clip with an injected pulse), or an rPPG dataset folder (PURE, UBFC-rPPG, generic); ``demo`` is
the built-in demo face. Every clip runs through each filter in streaming mode exactly as the
runtime does, directly and (unless ``--no-transport``) after the I420 + H.264 path to the meeting
app. Writes report.json, report.md and PNG figures; per-clip results are kept under
``<out>/clips`` so an interrupted run continues where it stopped, or adds filters or datasets to
an earlier run (``--fresh`` starts over): each filter's results are kept per version of its code
(the source of its class and base classes and of the engine modules the filters use) and, for
deid, pattern and adaptive, per model or pattern file; a run with other seconds, photos per
identity, attackers, judges, strength or transport path is refused.
``--strength`` and ``--auto-strength`` act as in ``vcam-run`` (auto strength: the identity
monitor, dlib, reads the outgoing frame once per clip second, enrolling over the first 3); so does
``--pulse``, and with ``hide`` or ``replace`` the report gains a pulse-privacy table (what every
rPPG reader reads from the sent video against the true and the target HR).
Needs the ``train`` extra (torch judges, matplotlib).
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import inspect
import json
import shutil
import sys
import time
from collections.abc import Collection
from pathlib import Path
from types import ModuleType

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from vcam.engine.errors import VcamError
from vcam.engine.filters import FILTERS, MAX_STRENGTH, MIN_STRENGTH, FaceFilter, make_filter, pattern_file
from vcam.engine.keyed.keys import random_key
from vcam.engine.pulse.modes import PULSE_MODES, TARGET_HR_RANGE
from vcam.engine.recognisers import RECOGNISERS

from .cli import Parser, bounded, guarded, quiet_native_logs, train_extra_missing
from .config import DEFAULT_MODEL

ATTACKERS = tuple(RECOGNISERS)
ENGINE = "vcam.engine"
JUDGES = ("pos", "chrom", "physnet", "physformer")


def _csv(value: str, allowed: Collection[str], what: str) -> list[str]:
    items = [v.strip() for v in value.split(",") if v.strip()]
    if not items or any(v not in allowed for v in items):
        raise argparse.ArgumentTypeError(f"{what} must be a comma-separated subset of {', '.join(allowed)}")
    return items


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="vcam-eval", description=__doc__.splitlines()[0])
    p.add_argument("--dataset", action="append", help="video file, photo folder, rPPG dataset folder, or 'demo' (repeatable; default demo)")
    p.add_argument("--filters", type=lambda v: _csv(v, FILTERS, "--filters"), default=list(FILTERS), help="default: all")
    p.add_argument("--model", type=Path, help="streaming ONNX model for deid, or an identity pattern .npz for pattern and adaptive (default: the shipped ones)")
    p.add_argument("--strength", type=bounded("--strength", MIN_STRENGTH, MAX_STRENGTH), default=1.0, help="filter strength, as vcam-run's (default: 1)")
    p.add_argument("--auto-strength", action="store_true", help="raise the strength while dlib recognises the face, as vcam-run's")
    p.add_argument("--pulse", choices=PULSE_MODES, default="keep", help="the heart rate after the filter, as vcam-run's --pulse (default: keep)")
    p.add_argument("--target-hr", type=bounded("--target-hr", *TARGET_HR_RANGE, " bpm"), default=90.0, help="bpm shown by --pulse replace (default: 90)")
    p.add_argument("--attackers", type=lambda v: _csv(v, ATTACKERS, "--attackers"), default=list(ATTACKERS))
    p.add_argument("--judges", type=lambda v: _csv(v, JUDGES, "--judges"), default=list(JUDGES))
    p.add_argument("--out", type=Path, default=Path("report"), help="output folder (default: report/)")
    p.add_argument("--seconds", type=float, default=10.0, help="length of animated photo clips (default: 10)")
    p.add_argument(
        "--per-identity",
        type=int,
        default=1,
        help="photos animated per identity (default: 1; 0 = all; 2+ lets the parrot attacker train and test on different clips)",
    )
    p.add_argument("--no-transport", dest="transport", action="store_false", help="skip the I420 + H.264 path")
    p.add_argument("--fresh", action="store_true", help="ignore per-clip results of an earlier run in --out")
    return p


def load_dataset(spec: str, seconds: float, per_identity: int) -> list:
    from vcam.engine.video.sources import DemoSource
    from vcam.models.evaluation.clips import EvalClip, load_clips

    if spec == "demo":
        src = DemoSource(640, 480, frames=round(seconds * 30))
        frames = []
        while (f := src.read()) is not None:
            frames.append(f)
        return [EvalClip("demo", frames, src.fps, "demo", src.bvp[: len(frames)])]
    return load_clips(spec, seconds=seconds, per_identity=per_identity or None)


def result_folders(out: Path, settings: dict, filters: list[str], model: Path) -> dict[str, str]:
    """The folder under ``<out>/clips/<dataset>/<path>/`` of each filter's per-clip results.

    Raises VcamError if ``out`` holds results made with other ``settings``."""
    marker = out / "clips" / "settings.json"
    if marker.exists() and json.loads(marker.read_text()) != settings:
        raise VcamError(f"{out} holds results made with other settings ({marker}); pass --fresh or another --out")
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps(settings, indent=1))
    files = {"deid": model, "pattern": pattern_file(model), "adaptive": pattern_file(model, "adaptive")}
    folders = {}
    for f in filters:
        digest = hashlib.sha256(filter_code(f).encode())
        if f in files:
            digest.update(files[f].read_bytes())
        folders[f] = f"{f}-{digest.hexdigest()[:12]}"
    return folders


def filter_code(name: str) -> str:
    """The source code of filter ``name``'s class and its base classes in vcam's engine, then of every
    engine module the filter's modules take names from, directly or through another such module."""
    classes, todo = {}, [FaceFilter]
    while todo:
        cls = todo.pop()
        classes[getattr(cls, "name", None)] = cls
        todo += [c for c in cls.__subclasses__() if c.__module__.startswith(ENGINE)]
    own = [c for c in classes[name].__mro__ if c.__module__.startswith(ENGINE)]
    modules = {m for c in own if (m := inspect.getmodule(c)) is not None}
    deps = {d.__name__: d for m in modules for d in engine_dependencies(m) if d not in modules}
    return "".join(inspect.getsource(c) for c in own) + "".join(inspect.getsource(deps[n]) for n in sorted(deps))


def engine_dependencies(module: ModuleType) -> list[ModuleType]:
    """The vcam.engine modules ``module`` takes names from, transitively, itself excluded, by name."""
    found, todo = {module.__name__: module}, [module]
    while todo:
        for value in vars(todo.pop()).values():
            dependency = inspect.getmodule(value)
            if dependency and dependency.__name__.startswith(ENGINE + ".") and dependency.__name__ not in found:
                found[dependency.__name__] = dependency
                todo.append(dependency)
    del found[module.__name__]
    return [found[n] for n in sorted(found)]


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    console = Console(file=quiet_native_logs())
    try:
        from vcam.models.evaluation import report as report_mod
        from vcam.models.evaluation.evaluate import PATHS, ClipResult, RawSide, evaluate_clip, templates_for
        from vcam.models.evaluation.protect import TRANSPORT, PulseSetting
        from vcam.models.evaluation.utility import PulseJudges
    except ImportError as exc:
        return train_extra_missing("vcam-eval", exc)
    started = time.monotonic()

    def body() -> int:
        datasets = args.dataset or ["demo"]
        for spec in datasets:
            if spec != "demo" and not Path(spec).exists():
                raise VcamError(f"dataset not found: {spec}")
        model = args.model or DEFAULT_MODEL
        # Each filter built once now: a bad model fails before an hour of work, and its own list of the
        # recognisers it used marks them seen in the report.
        seen = {f: sorted(make_filter(f, model, "auto", background=False, key=random_key()).recognisers) for f in args.filters}
        if args.fresh and (args.out / "clips").exists():
            shutil.rmtree(args.out / "clips")
        settings = {
            "seconds": args.seconds,
            "per_identity": args.per_identity,
            "attackers": sorted(args.attackers),
            "judges": sorted(args.judges),
            "strength": args.strength,
            "auto_strength": args.auto_strength,
            "transport": TRANSPORT,
            "pulse": args.pulse,
            "target_hr": args.target_hr if args.pulse == "replace" else None,
        }
        cache = result_folders(args.out, settings, args.filters, model)
        attackers = {a: RECOGNISERS[a]() for a in args.attackers}
        judges = PulseJudges()
        pulse = PulseSetting(args.pulse, args.target_hr)
        results: dict = {}
        templates: dict = {}
        paths = PATHS if args.transport else PATHS[:1]
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=console, transient=True) as bar:
            for spec in datasets:
                task = bar.add_task(f"loading {spec}", total=None)
                clips = load_dataset(spec, args.seconds, args.per_identity)
                name = "demo" if spec == "demo" else Path(spec).name
                bar.update(task, total=len(clips) * len(args.filters), completed=0, description=name)
                results[name] = {p: {f: [] for f in args.filters} for p in paths}
                for clip in clips:
                    raw = RawSide(clip)  # tracking and raw pulses/embeddings: once per clip
                    for f in args.filters:
                        files = {p: args.out / "clips" / name / p / cache[f] / clip.name.replace("/", "__") for p in paths}
                        done = {p: r for p, file in files.items() if (r := ClipResult.load(file)) is not None}
                        if len(done) < len(paths):
                            missing = tuple(p for p in paths if p not in done)
                            build = functools.partial(make_filter, f, model, "auto", background=False, key=random_key())  # keyed: as seen without the key
                            done |= evaluate_clip(raw, build, attackers, judges, tuple(args.judges), missing, args.strength, args.auto_strength, pulse)
                            for p in missing:
                                done[p].save(files[p])
                        for p in paths:
                            results[name][p][f].append(done[p])
                        bar.advance(task)
                templates[name] = templates_for(clips, results[name]["direct"][args.filters[0]], attackers)
        config = {
            "datasets": datasets,
            "filters": args.filters,
            "attackers": args.attackers,
            "judges": args.judges,
            "model": str(model) if "deid" in args.filters else None,
            "seconds": args.seconds,
            "per_identity": args.per_identity,
            "transport": args.transport,
            "strength": args.strength,
            "auto_strength": args.auto_strength,
            "pulse": args.pulse,
            "target_hr": args.target_hr,
            "seen": seen,
        }
        rep = report_mod.write(results, templates, attackers, args.out, config)
        console.print(f"wrote {args.out / 'report.md'}, report.json and {len(rep['figures'])} figures in {time.monotonic() - started:.0f} s")
        return 0

    return guarded("vcam-eval", body, "interrupted; finished clips are kept, run again to continue")


if __name__ == "__main__":
    sys.exit(main())
