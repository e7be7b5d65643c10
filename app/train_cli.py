"""``vcam-train``: train the de-identification AE, learn an identity pattern, or check weights
(needs the ``train`` extra).

    vcam-train ae --photos <root>/<identity>/<photo>.jpg-folder --out runs/default [--config train.toml]
                  [--extra-photos folder-or-manifest.json] [--epochs N] [--clip-len T] [--resume]
    vcam-train pattern --photos ... --out runs/pattern --psnr 33 [--steps 300] [--ssim W] [--sface W]
    vcam-train check runs/default-or-model.onnx [--strength 1 1.2] [--photos ...] [--config ...]

The TOML file holds any ``TrainConfig`` field; command-line values override it. ``ae`` prints one
line per epoch (losses, validation PSNR / pulse correlation / dlib match rate); ``pattern`` writes
``<out>/identity_pattern.npz`` (``--filter pattern``); ``check`` trains nothing: it runs the
training's validation on the given weights, with the config they recorded (a run's config.json, an
exported model's metadata) under the TOML and command-line values, and prints one JSON line per
strength. Bad input is one line.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from vcam.engine.errors import VcamError

from .cli import Parser, guarded, quiet_native_logs, train_extra_missing
from .config import read_toml

DATA_OPTIONS = ("photos", "extra_photos", "out", "epochs", "clip_len", "seed", "data_seed", "val_fold")  # TrainConfig fields


def build_parser() -> argparse.ArgumentParser:
    data = Parser(add_help=False, versioned=False)  # the TrainConfig options every subcommand takes
    data.add_argument("--config", type=Path, help="TOML file with TrainConfig fields")
    data.add_argument("--photos", help="folder with one sub-folder of photos per identity")
    data.add_argument(
        "--extra-photos", help="more identities for training only (folder, or JSON {identity: [photo paths]}); config extra_identities picks some"
    )
    data.add_argument("--out", help="run folder (config.json, checkpoint.pt, log.jsonl)")
    data.add_argument("--epochs", type=int)
    data.add_argument("--clip-len", type=int)
    data.add_argument("--seed", type=int, help="initialisation, batch order and sampling (and the data, unless --data-seed)")
    data.add_argument("--data-seed", type=int, help="the identity split and the clips: repeat a run on the same data with another --seed")
    data.add_argument("--val-fold", type=int, metavar="K", help="hold out the split's K-th disjoint group of identities (k-fold; default 0)")
    ap = Parser(prog="vcam-train", description=__doc__.splitlines()[0])
    commands = ap.add_subparsers(dest="command", required=True, metavar="{ae,pattern,check}")
    ae = commands.add_parser("ae", parents=[data], help="train the de-identification autoencoder")
    ae.add_argument("--resume", action="store_true", help="continue from <out>/checkpoint.pt")
    ae.add_argument("--stop-after", type=int, metavar="EPOCH", help="stop after this epoch (0-based) keeping the full LR schedule; --resume continues")
    pattern = commands.add_parser("pattern", parents=[data], help="learn a universal identity pattern within a PSNR budget")
    pattern.add_argument("--psnr", type=float, required=True, metavar="DB", help="the pattern's PSNR budget on the faces (10..60 dB)")
    pattern.add_argument("--steps", type=int, default=300, metavar="N", help="optimisation steps (default 300)")
    pattern.add_argument("--ssim", type=float, default=0.0, metavar="W", help="weight of (1 - SSIM) of the patterned faces (default 0)")
    pattern.add_argument("--sface", type=float, default=0.0, metavar="W", help="weight of SFace's cosine distance beside dlib's (default 0)")
    check = commands.add_parser("check", parents=[data], help="validate weights on the validation clips (trains nothing)")
    check.add_argument("weights", metavar="WEIGHTS", help="run folder, checkpoint.pt or vcam-export ONNX")
    check.add_argument("--strength", type=float, nargs="+", metavar="S", help="the runtime strengths to validate at (default 1)")
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    quiet_native_logs()
    console = Console()
    try:
        from vcam.models.train import TrainConfig, check, recorded_config, train
    except ImportError as exc:
        return train_extra_missing("vcam-train", exc)

    def config() -> TrainConfig:
        """The TrainConfig of the recorded weights (check), the TOML file and the command line, in that order."""
        known = {f.name for f in dataclasses.fields(TrainConfig)}
        values = {k: v for k, v in recorded_config(args.weights).items() if k in known} if args.command == "check" else {}
        if args.config:
            values.update(read_toml(args.config))
        values.update({k: v for k in DATA_OPTIONS if (v := getattr(args, k)) is not None})
        if unknown := sorted(set(values) - known):
            raise VcamError(f"unknown setting {unknown[0]!r}; known: {', '.join(sorted(known))}")
        if "photos" not in values:
            raise VcamError("--photos is required (a folder with one sub-folder of photos per identity)")
        return TrainConfig(**values)

    def learn_pattern(cfg: TrainConfig) -> int:
        from vcam.engine.filters.identity_pattern import save_pattern
        from vcam.models.pattern import learn_pattern

        with console.status("learning the identity pattern (clips, judges, steps)") as status:
            pattern, record = learn_pattern(
                cfg,
                args.psnr,
                args.steps,
                ssim_weight=args.ssim,
                sface_weight=args.sface,
                log=lambda r: status.update(f"step {r['step']}/{args.steps}: dlib distance {r['distance']:.3f} at {r['psnr_db']:.1f} dB"),
            )
        out = Path(cfg.out)
        out.mkdir(parents=True, exist_ok=True)
        save_pattern(out / "identity_pattern.npz", pattern, {**record, "training_config": dataclasses.asdict(cfg)})
        print(json.dumps(record))
        print(f"pattern: {out / 'identity_pattern.npz'}")
        return 0

    def body() -> int:
        if args.command == "pattern" and (args.steps < 1 or not 10.0 <= args.psnr <= 60.0 or min(args.ssim, args.sface) < 0):
            raise VcamError("--psnr must be 10..60 dB, --steps >= 1, --ssim and --sface >= 0")
        if args.command == "check" and args.strength is not None and min(args.strength) < 0:
            raise VcamError("--strength values must be >= 0")
        cfg = config()
        if args.command == "check":
            with console.status("checking (validation clips, attackers' references, one pass per strength)"):
                records = check(cfg, args.weights, tuple(args.strength or (1.0,)))
            for r in records:
                print(json.dumps(r), flush=True)
            return 0
        if args.command == "pattern":
            return learn_pattern(cfg)

        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=True,
            disable=not console.is_terminal,
        ) as bar:
            task = bar.add_task("preparing clips and judges", total=None)

            def log(r: dict) -> None:
                sface = f", open-id SFace {r['open_id_sface']:.4f}" if "open_id_sface" in r else ""
                val = (
                    (
                        f" | val PSNR {r['val_psnr_db']:.1f} dB, SSIM {r['val_ssim']:.3f}, pulse r {r['val_bvp_r']:.3f}, "
                        f"match dlib {r['val_dlib_match_rate']:.0%} / SFace {r['val_sface_match_rate']:.0%} (vs template "
                        f"{r['val_dlib_template_match_rate']:.0%} / {r['val_sface_template_match_rate']:.0%})"
                    )
                    if "val_psnr_db" in r
                    else ""
                )
                console.print(
                    f"epoch {r['epoch']}: total {r['total']:.4f} (rec {r['rec']:.4f}, id {r['id']:.4f}, open-id {r['open_id']:.4f}{sface}, "
                    f"rppg {r['rppg']:.4f}){val} | {r['seconds']:.0f} s",
                    highlight=False,
                    soft_wrap=True,
                )

            def progress(epoch: int, step: int, steps: int) -> None:
                bar.update(task, description=f"epoch {epoch + 1}/{cfg.epochs}", completed=step, total=steps)

            ckpt = train(cfg, resume=args.resume, log=log, progress=progress, stop_after=args.stop_after)
        print(f"checkpoint: {ckpt}")
        return 0

    return guarded("vcam-train", body, "interrupted (the last finished epoch is in the checkpoint; --resume continues)")


if __name__ == "__main__":
    sys.exit(main())
