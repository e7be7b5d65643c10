"""``vcam-train``: train the de-identification AE (needs the ``train`` extra).

    vcam-train --photos <root>/<identity>/<photo>.jpg-folder --out runs/default [--config train.toml]
               [--extra-photos folder-or-manifest.json] [--epochs N] [--clip-len T] [--resume]
    vcam-train --check runs/default-or-model.onnx [--strength 1 1.2] [--photos ...] [--config ...]

The TOML file holds any ``TrainConfig`` field; command-line values override it. Prints one line
per epoch (losses, validation PSNR / pulse correlation / dlib match rate); bad input is one line.
``--check`` trains nothing: it runs the training's validation on the given weights, with the config
they recorded (a run's config.json, an exported model's metadata) under the TOML and command-line
values, and prints one JSON line per strength.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from vcam.engine.errors import VcamError

from .cli import Parser, guarded, quiet_native_logs, train_extra_missing
from .config import read_toml


def main(argv: list[str] | None = None) -> int:
    ap = Parser(prog="vcam-train", description=__doc__.splitlines()[0])
    ap.add_argument("--config", type=Path, help="TOML file with TrainConfig fields")
    ap.add_argument("--photos", help="folder with one sub-folder of photos per identity")
    ap.add_argument("--extra-photos", help="more identities for training only (folder, or JSON {identity: [photo paths]}); config extra_identities picks some")
    ap.add_argument("--out", help="run folder (config.json, checkpoint.pt, log.jsonl)")
    ap.add_argument("--epochs", type=int)
    ap.add_argument("--clip-len", type=int)
    ap.add_argument("--seed", type=int, help="initialisation, batch order and sampling (and the data, unless --data-seed)")
    ap.add_argument("--data-seed", type=int, help="the identity split and the clips: repeat a run on the same data with another --seed")
    ap.add_argument("--val-fold", type=int, metavar="K", help="hold out the split's K-th disjoint group of identities (k-fold; default 0)")
    ap.add_argument("--resume", action="store_true", help="continue from <out>/checkpoint.pt")
    ap.add_argument("--stop-after", type=int, metavar="EPOCH", help="stop after this epoch (0-based) keeping the full LR schedule; --resume continues")
    ap.add_argument(
        "--check", metavar="WEIGHTS", help="train nothing: validate these weights (run folder, checkpoint.pt or vcam-export ONNX) on the validation clips"
    )
    ap.add_argument("--strength", type=float, nargs="+", metavar="S", help="with --check: the runtime strengths to validate at (default 1)")
    ap.add_argument(
        "--pattern-psnr",
        type=float,
        metavar="DB",
        help="learn a universal identity pattern within this PSNR budget instead of the AE: <out>/identity_pattern.npz (--filter pattern)",
    )
    ap.add_argument("--pattern-steps", type=int, default=300, metavar="N", help="with --pattern-psnr: optimisation steps (default 300)")
    ap.add_argument("--pattern-ssim", type=float, default=0.0, metavar="W", help="with --pattern-psnr: weight of (1 - SSIM) of the patterned faces (default 0)")
    ap.add_argument(
        "--pattern-sface", type=float, default=0.0, metavar="W", help="with --pattern-psnr: weight of SFace's cosine distance beside dlib's (default 0)"
    )
    args = ap.parse_args(argv)
    quiet_native_logs()
    console = Console()
    try:
        from vcam.models.train import TrainConfig, check, recorded_config, train
    except ImportError as exc:
        return train_extra_missing("vcam-train", exc)

    def learn(cfg: TrainConfig) -> int:
        from vcam.engine.filters.identity_pattern import save_pattern
        from vcam.models.pattern import learn_pattern

        if args.pattern_steps < 1 or not 10.0 <= args.pattern_psnr <= 60.0 or min(args.pattern_ssim, args.pattern_sface) < 0:
            raise VcamError("--pattern-psnr must be 10..60 dB, --pattern-steps >= 1, --pattern-ssim and --pattern-sface >= 0")
        with console.status("learning the identity pattern (clips, judges, steps)") as status:
            pattern, record = learn_pattern(
                cfg,
                args.pattern_psnr,
                args.pattern_steps,
                ssim_weight=args.pattern_ssim,
                sface_weight=args.pattern_sface,
                log=lambda r: status.update(f"step {r['step']}/{args.pattern_steps}: dlib distance {r['distance']:.3f} at {r['psnr_db']:.1f} dB"),
            )
        out = Path(cfg.out)
        out.mkdir(parents=True, exist_ok=True)
        save_pattern(out / "identity_pattern.npz", pattern, {**record, "training_config": dataclasses.asdict(cfg)})
        print(json.dumps(record))
        print(f"pattern: {out / 'identity_pattern.npz'}")
        return 0

    def body() -> int:
        known = {f.name for f in dataclasses.fields(TrainConfig)}
        if args.strength is not None and (args.check is None or min(args.strength) < 0):
            raise VcamError("--strength needs --check and values >= 0")
        values = {k: v for k, v in recorded_config(args.check).items() if k in known} if args.check else {}
        if args.config:
            values.update(read_toml(args.config))
        values.update(
            {
                k: v
                for k, v in {
                    "photos": args.photos,
                    "extra_photos": args.extra_photos,
                    "out": args.out,
                    "epochs": args.epochs,
                    "clip_len": args.clip_len,
                    "seed": args.seed,
                    "data_seed": args.data_seed,
                    "val_fold": args.val_fold,
                }.items()
                if v is not None
            }
        )
        if unknown := sorted(set(values) - known):
            raise VcamError(f"unknown setting {unknown[0]!r}; known: {', '.join(sorted(known))}")
        if "photos" not in values:
            raise VcamError("--photos is required (a folder with one sub-folder of photos per identity)")
        if values.get("clip_len", 64) % 4:
            raise VcamError("clip_len must be divisible by 4 (PhysNet's temporal pooling)")
        for name, least in (("morph_identities", 0), ("validate_every", 1), ("val_fold", 0)):
            if not isinstance(value := values.get(name, least), int) or value < least:
                raise VcamError(f"{name} must be a whole number >= {least}")
        cfg = TrainConfig(**values)
        if args.check:
            with console.status("checking (validation clips, attackers' references, one pass per strength)"):
                records = check(cfg, args.check, tuple(args.strength or (1.0,)))
            for r in records:
                print(json.dumps(r), flush=True)
            return 0
        if args.pattern_psnr is not None:
            return learn(cfg)

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
