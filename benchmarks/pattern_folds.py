"""k-fold cross-validation of an identity-pattern recipe: learn one pattern per validation fold
(each fold holds out a disjoint group of identities; every identity is validated exactly once)
and run ``train_default.py`` on each, then report every fold and the spread over folds.

    python benchmarks/pattern_folds.py [--folds 0 1 2 3 4] [--jobs 2] [--out runs/folds-30db] [--json] \
        [--config models/configs/pattern.toml] [--strength 1] [--auto-strength] [--adaptive] \
        -- --psnr 30 [--steps 300] [--ssim 0] [--sface 0] [--seed 0]

Everything after ``--`` goes to ``vcam-train`` (with ``--config``, LFW-10 and the
face_recognition extra identities, ``--val-fold K``, ``OMP_NUM_THREADS=1``); ``--strength``,
``--auto-strength`` and ``--adaptive`` (the ``adaptive`` filter starting from the fold's pattern)
go to ``train_default.py``. ``<out>/fold<K>/`` keeps each fold's pattern and
reports (one per report setting); a fold whose files are there is not redone, and one learned
with other settings is an error (use another ``--out``). A cached report is reused as it is: after
changing a filter's code or defaults, delete the fold's ``report*.json``. Two folds at a time fit this 2-core
machine; a 300-step fold takes ~3.5 min to learn and ~6 min to report.

JSON: ``folds`` (fold -> validation identities and the six goal metrics of issue #4, plus
``sface_match_rate``, ``strength_mean``, ``dhr_where_raw_right``), ``summary`` (per metric: ``mean``, ``worst``, ``folds_meeting_goal``) and
``folds_meeting_all_goals``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import tomllib

from vcam.engine.filters.identity_pattern import load_pattern

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_default import DATA, GOALS, ROOT  # noqa: E402

EXTRA_KEYS = ("sface_match_rate", "strength_mean")


def learn_args(config: Path, train_args: list[str], fold: int, out: Path) -> list[str]:
    """The ``vcam-train`` command line of one fold."""
    return [
        sys.executable,
        "-m",
        "vcam.app.train_cli",
        "pattern",
        "--config",
        str(config),
        "--photos",
        str(DATA / "faces" / "lfw10"),
        "--extra-photos",
        str(DATA / "faces" / "face_recognition" / "identities.json"),
        "--out",
        str(out),
        "--val-fold",
        str(fold),
        *train_args,
    ]


def recipe(config: Path, train_args: list[str]) -> dict:
    """The pattern meta and config values that ``config`` and ``train_args`` ask for (vcam-train's
    defaults where absent; the command line over the config)."""
    flags = dict(zip(train_args[::2], train_args[1::2], strict=True))
    return (
        {"seed": 0}
        | tomllib.loads(config.read_text(encoding="utf-8"))
        | {
            "psnr_db": float(flags["--psnr"]),
            "steps": int(flags.get("--steps", 300)),
            "ssim_weight": float(flags.get("--ssim", 0.0)),
            "sface_weight": float(flags.get("--sface", 0.0)),
        }
        | {key: int(flags[flag]) for flag, key in (("--seed", "seed"), ("--data-seed", "data_seed")) if flag in flags}
    )


def run_fold(fold: int, out: Path, config: Path, train_args: list[str], wanted: dict, report_args: list[str]) -> dict:
    """Learn (unless done) and report (unless done) one fold (``wanted``: ``recipe(config,
    train_args)``); its report's ``validation`` part."""
    folder, env = out / f"fold{fold}", {**os.environ, "OMP_NUM_THREADS": "1"}
    pattern, report = folder / "identity_pattern.npz", folder / ("report" + "".join(report_args).replace("--", "-") + ".json")
    want = wanted | {"val_fold": fold}
    if pattern.exists():
        meta = load_pattern(pattern)[1]
        tc = {"val_fold": 0} | meta["training_config"]
        have = {k: meta.get(k, 0.0) if k in ("psnr_db", "steps", "ssim_weight", "sface_weight") else tc.get(k) for k in want}
        if diff := [f"{k} {have[k]!r}, not {want[k]!r}" for k in want if have[k] != want[k]]:
            raise SystemExit(f"pattern_folds: {pattern} was learned with {'; '.join(diff)}; use another --out")
    else:
        res = subprocess.run(learn_args(config, train_args, fold, folder), env=env, capture_output=True, text=True)
        if res.returncode:
            raise SystemExit(f"pattern_folds: fold {fold}: {(res.stderr.strip() or res.stdout.strip()).splitlines()[-1]}")
    if not report.exists():
        res = subprocess.run(
            [sys.executable, str(ROOT / "benchmarks" / "train_default.py"), "--model", str(pattern), "--json", *report_args],
            env=env,
            capture_output=True,
            text=True,
        )
        if res.returncode:
            raise SystemExit(f"pattern_folds: fold {fold} report: {(res.stderr.strip() or 'failed').splitlines()[-1]}")
        report.write_text(res.stdout)
    full = json.loads(report.read_text())
    return {
        "validation_identities": full["validation_identities"],
        **{k: full["validation"][k] for k in (*GOALS, *EXTRA_KEYS)},
        "dhr_where_raw_right": full["validation"].get("dhr_where_raw_right"),
    }


def meets(key: str, value: float) -> bool:
    op, goal = GOALS[key]
    return value <= goal if op == "<=" else value >= goal


def summarise(folds: dict[int, dict]) -> dict:
    """Mean, worst and number of folds meeting the goal, per metric."""
    summary = {}
    for key in (*GOALS, *EXTRA_KEYS):
        values = [f[key] for f in folds.values()]
        worst = max(values) if key not in GOALS or GOALS[key][0] == "<=" else min(values)
        summary[key] = {"mean": float(np.mean(values)), "worst": float(worst)}
        if key in GOALS:
            summary[key]["folds_meeting_goal"] = sum(meets(key, v) for v in values)
    return summary


def table(result: dict) -> str:
    folds = result["folds"]
    keys = (*GOALS, *EXTRA_KEYS)
    lines = [f"{'fold':5} {'validation identities':40} " + " ".join(f"{k:>16}" for k in keys)]
    for k, f in folds.items():
        lines.append(f"{k:5} {', '.join(f['validation_identities']):40} " + " ".join(f"{f[key]:>16.3f}" for key in keys))
    for stat in ("mean", "worst"):
        lines.append(f"{stat:46} " + " ".join(f"{result['summary'][key][stat]:>16.3f}" for key in keys))
    lines.append(
        f"{'goal (folds meeting it)':46} "
        + " ".join(
            f"{GOALS[key][0] + str(GOALS[key][1]) + ' (' + str(result['summary'][key]['folds_meeting_goal']) + ')':>16}" if key in GOALS else f"{'':>16}"
            for key in keys
        )
    )
    lines.append(f"folds meeting all six goals: {result['folds_meeting_all_goals']} of {len(folds)}")
    return "\n".join(lines)


def main() -> int:
    argv = sys.argv[1:]
    split = argv.index("--") if "--" in argv else len(argv)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--folds", type=int, nargs="+", default=[0, 1, 2, 3, 4], help="validation folds to run (LFW-10: 0..4)")
    ap.add_argument("--jobs", type=int, default=2, help="folds at a time (one core each)")
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "folds", help="one sub-folder per fold")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    ap.add_argument("--config", type=Path, default=ROOT / "models" / "configs" / "pattern.toml", help="vcam-train's TOML config")
    ap.add_argument("--strength", type=float, default=1.0, help="the filter's strength in the reports")
    ap.add_argument("--auto-strength", action="store_true", help="report with the runtime's auto-strength loop")
    ap.add_argument("--adaptive", action="store_true", help="report the adaptive filter starting from each fold's pattern")
    ap.add_argument("--dlib-only", action="store_true", help="with --adaptive: stepping against dlib only")
    args, train_args = ap.parse_args(argv[:split]), argv[split + 1 :]
    if "--psnr" not in train_args or len(train_args) % 2:
        ap.error("give vcam-train's pattern flags after --, e.g. -- --psnr 30 (flag value pairs)")
    if args.jobs < 1:
        ap.error("--jobs must be >= 1")
    try:
        wanted = recipe(args.config, train_args)
    except (KeyError, ValueError) as exc:
        ap.error(f"bad vcam-train flags after --: {exc}")
    except (OSError, tomllib.TOMLDecodeError) as exc:
        ap.error(f"cannot read {args.config}: {exc}")
    report_args = (
        ([] if args.strength == 1.0 else ["--strength", str(args.strength)])
        + (["--auto-strength"] if args.auto_strength else [])
        + (["--adaptive"] if args.adaptive else [])
        + (["--dlib-only"] if args.dlib_only else [])
    )
    with ThreadPoolExecutor(args.jobs) as pool:
        results = dict(zip(args.folds, pool.map(lambda k: run_fold(k, args.out, args.config, train_args, wanted, report_args), args.folds), strict=True))
    result = {
        "recipe": wanted,
        "strength": args.strength,
        "auto_strength": args.auto_strength,
        "adaptive": args.adaptive,
        "dlib_only": args.dlib_only,
        "folds": results,
        "summary": summarise(results),
        "folds_meeting_all_goals": sum(all(meets(k, f[k]) for k in GOALS) for f in results.values()),
    }
    print(json.dumps(result, indent=2) if args.json else table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
