"""Aggregate per-clip results into the report: ``report.json`` (every number), ``report.md``
(tables laid out like seed 000's Table 2: one row per recogniser / rPPG judge / fidelity measure,
one column per filter) and PNG figures (ROC per attacker, PCA of embeddings, pixel difference +
pulse overlay, Bland-Altman of HR).

``results[dataset][path][filter]`` holds the ``ClipResult`` s of one dataset, where ``path`` is
"direct" (what the virtual camera outputs) or "transport" (after I420 + H.264, what the meeting
app receives).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from vcam.engine.pulse.signals import pearson  # noqa: E402
from vcam.engine.recognisers import Recogniser  # noqa: E402

from .evaluate import ClipResult, privacy_summary  # noqa: E402
from .privacy import roc  # noqa: E402

Results = dict[str, dict[str, dict[str, list[ClipResult]]]]


def _mean(values: list) -> float | None:
    vals = [v for v in values if v is not None]
    return float(np.mean(vals)) if vals else None


def worst_unseen(privacy: dict[str, dict], seen: frozenset[str] | set[str]) -> dict | None:
    """The privacy claim of a filter: the highest match rate and the highest rank-1 over the
    recognisers it never used (each with the recogniser's name), with rank-1's chance level."""
    rows = {name: row for name, row in privacy.items() if name not in seen}
    if not rows:
        return None
    by_match = max(rows, key=lambda n: rows[n]["match_rate"])
    ranked = [n for n in rows if rows[n].get("rank1") is not None]
    by_rank = max(ranked, key=lambda n: rows[n]["rank1"]) if ranked else None
    return {
        "match_rate": rows[by_match]["match_rate"],
        "match_rate_recogniser": by_match,
        "rank1": rows[by_rank]["rank1"] if by_rank else None,
        "rank1_recogniser": by_rank,
        "rank1_chance": rows[by_match].get("rank1_chance"),
    }


NEAR_BPM = 5.0  # a reading this close to the true HR has found it


def pulse_privacy(rows: list[dict], target_hr: float | None = None) -> dict:
    """One judge over clips (``PulseAgreement`` dicts): the HR it reads from the sent video, how far
    that is from the true HR (the truth where known, else its raw reading) and from ``target_hr``;
    ``near_true`` the share of clips read within ``NEAR_BPM`` of the true HR and ``near_true_chance``
    the share within it of another clip's true HR (what a reading blind to the true rate scores);
    the SNR at the true HR."""
    sent = [p["hr_protected"] for p in rows]
    true = [p["hr_truth"] if p.get("hr_truth") is not None else p["hr_raw"] for p in rows]
    pairs = [(a, b) for i, a in enumerate(sent) for j, b in enumerate(true) if i != j]
    return {
        "hr_sent_bpm": _mean(sent),
        "dhr_target_bpm": _mean([abs(s - target_hr) for s in sent]) if target_hr is not None else None,
        "dhr_true_bpm": _mean([abs(s - t) for s, t in zip(sent, true, strict=True)]),
        "near_true": float(np.mean([abs(s - t) <= NEAR_BPM for s, t in zip(sent, true, strict=True)])),
        "near_true_chance": float(np.mean([abs(a - b) <= NEAR_BPM for a, b in pairs])) if pairs else None,
        "snr_true_db": _mean([p.get("snr_true_db") for p in rows]),
    }


def summarise(
    results: list[ClipResult],
    raw: list[ClipResult],
    templates: dict,
    attackers: dict[str, Recogniser],
    seen: frozenset[str] = frozenset(),
    target_hr: float | None = None,
) -> dict:
    """Privacy per attacker (each marked ``seen`` if the filter used it), the worst unseen
    recogniser, utility and pulse privacy (``target_hr``: the rate ``--pulse replace`` shows) per
    judge, fidelity and speed of one filter on one dataset."""
    judges = sorted(results[0].pulse)
    utility = {}
    for j in judges:
        rows = [r.pulse[j] for r in results]
        utility[j] = {
            "dhr_bpm": _mean([p["dhr"] for p in rows]),
            "hr_mae_bpm": _mean([p["hr_mae"] for p in rows]),
            "hr_rmse_bpm": _mean([p["hr_rmse"] for p in rows]),
            "hr_r": pearson(np.array([p["hr_raw"] for p in rows]), np.array([p["hr_protected"] for p in rows])) if len(rows) > 2 else None,
            "bvp_r": _mean([p["bvp_r"] for p in rows]),
            "ss": _mean([p["ss"] for p in rows]),
            "dhr_truth_raw_bpm": _mean([p["dhr_truth_raw"] for p in rows]),
            "dhr_truth_protected_bpm": _mean([p["dhr_truth_protected"] for p in rows]),
        }
    privacy = privacy_summary(results, templates, attackers, raw)
    for name, row in privacy.items():
        row["seen"] = name in seen
        row["rank1_chance"] = 1 / len(templates[name]) if templates[name] else None
    return {
        "privacy": privacy,
        "worst_unseen": worst_unseen(privacy, seen),
        "utility": utility,
        "pulse_privacy": {j: pulse_privacy([r.pulse[j] for r in results], target_hr) for j in judges},
        "fidelity": {
            k: _mean([getattr(r, k) for r in results if np.isfinite(getattr(r, k))]) if any(np.isfinite(getattr(r, k)) for r in results) else float("inf")
            for k in ("crop_psnr", "crop_ssim", "frame_psnr", "frame_ssim", "flicker")
        },
        "speed": {"filter_ms": float(np.median([r.filter_ms for r in results])), "fallback_share": _mean([r.fallback_share for r in results])},
        "clips": [r.scalars() for r in results],
    }


def _fmt(v: Any, pct: bool = False) -> str:
    if v is None:
        return "–"
    if isinstance(v, float) and np.isinf(v):
        return "∞"
    return f"{100 * v:.1f} %" if pct else f"{v:.3f}" if abs(v) < 10 else f"{v:.1f}"


PRIVACY_ROWS = (
    ("match_rate", "match rate at threshold", True),
    ("eer", "verification EER", True),
    ("rank1", "rank-1 identification", True),
    ("closed_set_accuracy", "closed-set accuracy", True),
    ("parrot_accuracy", "parrot attacker accuracy", True),
    ("jitter", "identity jitter (distance)", False),
)
UTILITY_ROWS = (
    ("dhr_bpm", "\\|ΔHR\\| raw vs protected (bpm)"),
    ("hr_mae_bpm", "HR MAE, 30 s windows (bpm)"),
    ("hr_rmse_bpm", "HR RMSE (bpm)"),
    ("hr_r", "Pearson R of HR"),
    ("bvp_r", "BVP Pearson r"),
    ("ss", "spectral similarity"),
    ("dhr_truth_protected_bpm", "\\|HR protected - truth\\| (bpm)"),
    ("dhr_truth_raw_bpm", "\\|HR raw - truth\\| (bpm)"),
)
FIDELITY_ROWS = (
    ("crop_psnr", "PSNR face crop (dB)"),
    ("crop_ssim", "SSIM face crop"),
    ("frame_psnr", "PSNR full frame (dB)"),
    ("frame_ssim", "SSIM full frame"),
    ("flicker", "added flicker (8-bit levels)"),
)


PULSE_PRIVACY_ROWS = (
    ("hr_sent_bpm", "HR read from the sent video (bpm)", False),
    ("dhr_target_bpm", "\\|HR sent - target\\| (bpm)", False),
    ("dhr_true_bpm", "\\|HR sent - true HR\\| (bpm)", False),
    ("near_true", f"read within {NEAR_BPM:g} bpm of the true HR", True),
    ("near_true_chance", "  the same by chance (another clip's true HR)", True),
    ("snr_true_db", "SNR at the true HR (dB)", False),
)


def pulse_privacy_table(cfg: dict, filters: dict, head: str, sep: str) -> list[str]:
    """The markdown rows of the pulse-privacy section (``--pulse hide`` or ``replace``)."""
    shown = "hidden" if cfg["pulse"] == "hide" else f"replaced by {cfg['target_hr']:g} bpm"
    lines = [
        f"### Pulse privacy (heart rate {shown})",
        "",
        "What each rPPG reader gets from the sent video; the true HR is the injected pulse's where known, else the reader's raw reading.",
        "",
        head,
        sep,
    ]
    for j in filters[next(iter(filters))]["pulse_privacy"]:
        for key, label, pct in PULSE_PRIVACY_ROWS:
            if any(filters[f]["pulse_privacy"][j][key] is not None for f in filters):
                lines.append(f"| {j}: {label} | " + " | ".join(_fmt(filters[f]["pulse_privacy"][j][key], pct) for f in filters) + " |")
    return lines


def markdown(report: dict) -> str:
    cfg = report["config"]
    strength = f"strength {cfg.get('strength', 1.0):g}" + (", raised by auto strength" if cfg.get("auto_strength") else "")
    lines = ["# deid-vcam evaluation", "", f"Filters: {', '.join(report['filters'])} ({strength}). Streaming, through the runtime's own frame processing.", ""]
    for ds, paths in report["datasets"].items():
        for path, filters in paths.items():
            if path == "clips":
                continue
            names = list(filters)
            head = "| | " + " | ".join(names) + " |"
            sep = "|---|" + "---|" * len(names)
            title = "virtual camera output" if path == "direct" else "after I420 + H.264 (1.5 Mbit/s), as the meeting app receives it"
            lines += [f"## {ds}: {title} ({paths['clips']} clips)", ""]
            attackers = list(filters[names[0]]["privacy"])
            lines += [
                "### Privacy (lower is better)",
                "",
                "A filter's claim is its worst figure over the recognisers it never used (*unseen*); a *seen* "
                "recogniser is one it was trained, learned or adapts against, so its low figures prove little.",
                "",
                head,
                sep,
            ]
            worst = [filters[f].get("worst_unseen") or {} for f in names]
            lines.append(
                "| **worst unseen recogniser: match rate** | "
                + " | ".join(f"**{_fmt(w.get('match_rate'), True)}** ({w.get('match_rate_recogniser')})" if w else "–" for w in worst)
                + " |"
            )
            lines.append(
                "| **worst unseen recogniser: rank-1** (chance "
                + _fmt(worst[0].get("rank1_chance") if worst[0] else None, True)
                + ") | "
                + " | ".join(f"**{_fmt(w.get('rank1'), True)}** ({w.get('rank1_recogniser')})" if w else "–" for w in worst)
                + " |"
            )
            for a in attackers:
                for key, label, pct in PRIVACY_ROWS:
                    lines.append(
                        f"| {a}: {label} | "
                        + " | ".join(_fmt(filters[f]["privacy"][a].get(key), pct) + (" (seen)" if filters[f]["privacy"][a].get("seen") else "") for f in names)
                        + " |"
                    )
            lines += ["", "### Physiological utility", "", head, sep]
            for j in filters[names[0]]["utility"]:
                for key, label in UTILITY_ROWS:
                    if any(filters[f]["utility"][j][key] is not None for f in names):
                        lines.append(f"| {j}: {label} | " + " | ".join(_fmt(filters[f]["utility"][j][key]) for f in names) + " |")
            if cfg.get("pulse", "keep") != "keep":
                lines += ["", *pulse_privacy_table(cfg, filters, head, sep)]
            lines += ["", "### Fidelity and speed", "", head, sep]
            for key, label in FIDELITY_ROWS:
                lines.append(f"| {label} | " + " | ".join(_fmt(filters[f]["fidelity"][key]) for f in names) + " |")
            lines.append("| filter ms/frame | " + " | ".join(_fmt(filters[f]["speed"]["filter_ms"]) for f in names) + " |")
            lines.append("| frames with a fallback | " + " | ".join(_fmt(filters[f]["speed"]["fallback_share"], True) for f in names) + " |")
            lines.append("")
    lines += ["Figures: " + ", ".join(f"[{p}]({p})" for p in report["figures"]), ""]
    return "\n".join(lines)


def figures(results: Results, report: dict, out: Path) -> list[str]:
    """Write the PNG figures; returns their file names."""
    written = []
    for ds, paths in results.items():
        direct = paths["direct"]
        filters = list(direct)
        tag = "".join(c if c.isalnum() else "_" for c in ds)
        for attacker, first in report["datasets"][ds]["direct"][filters[0]]["privacy"].items():
            written.append(_pca_figure(direct, attacker, ds, out / f"pca_{tag}_{attacker}.png"))
            if not first["impostor"]:
                continue  # one identity: no impostor scores, no ROC
            fig, ax = plt.subplots(figsize=(5, 5))
            for f in filters:
                p = report["datasets"][ds]["direct"][f]["privacy"][attacker]
                if p["impostor"]:
                    _, far, tar = roc(np.array(p["genuine"]), np.array(p["impostor"]))
                    ax.plot(far, tar, label=f"{f} (EER {_fmt(p['eer'], True)})")
            ax.plot([0, 1], [0, 1], "k:", lw=0.8)
            ax.set(xlabel="false accept rate", ylabel="true accept rate", title=f"ROC, {attacker} attacker, {ds}")
            ax.legend(loc="lower right", fontsize=8)
            written.append(_save(fig, out / f"roc_{tag}_{attacker}.png"))
        written.append(_segment_figure(direct, ds, out / f"segment_{tag}.png"))
        written.append(_bland_altman(direct, ds, out / f"bland_altman_{tag}.png"))
    return written


def _save(fig: plt.Figure, path: Path) -> str:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path.name


def class_distance_ratio(x: np.ndarray, labels: list[str]) -> float:
    """Mean intra-class over mean inter-class Euclidean distance (1 = identities mixed)."""
    lab = np.array(labels)
    d = np.linalg.norm(x[:, None] - x[None], axis=2)
    same = lab[:, None] == lab[None]
    off_diag = ~np.eye(len(x), dtype=bool)
    inter = d[~same].mean() if (~same).any() else np.nan
    return float(d[same & off_diag].mean() / inter) if (same & off_diag).any() else float("nan")


def _pca_figure(direct: dict[str, list[ClipResult]], attacker: str, ds: str, path: Path) -> str:
    filters = list(direct)
    raw = np.concatenate([r.emb_raw[attacker] for r in direct[filters[0]]])
    mean = raw.mean(0)
    _, _, vt = np.linalg.svd(raw - mean, full_matrices=False)
    fig, axes = plt.subplots(1, len(filters), figsize=(4 * len(filters), 4), squeeze=False)
    for ax, f in zip(axes[0], filters, strict=True):
        results = direct[f]
        idents = sorted({r.identity for r in results})
        colours = {n: plt.cm.tab10(i % 10) for i, n in enumerate(idents)}
        for r in results:
            pr = (r.emb_raw[attacker] - mean) @ vt[:2].T
            po = (r.emb_out[attacker] - mean) @ vt[:2].T
            ax.scatter(pr[:, 0], pr[:, 1], s=8, marker="o", color=colours[r.identity], alpha=0.35)
            ax.scatter(po[:, 0], po[:, 1], s=14, marker="x", color=colours[r.identity])
        out = np.concatenate([r.emb_out[attacker] for r in results])
        labels = [r.identity for r in results for _ in range(len(r.emb_out[attacker]))]
        ax.set_title(f"{f}: intra/inter {class_distance_ratio(out, labels):.2f}", fontsize=9)
    fig.suptitle(f"PCA of {attacker} embeddings ({ds}): o raw, x protected; colour = identity", fontsize=10)
    return _save(fig, path)


def _segment_figure(direct: dict[str, list[ClipResult]], ds: str, path: Path) -> str:
    filters = list(direct)
    fig, axes = plt.subplots(2, len(filters), figsize=(3.2 * len(filters), 5.5), squeeze=False)
    for i, f in enumerate(filters):
        r = direct[f][0]
        diff = r.example.mean(2) if r.example is not None else np.zeros((8, 8))
        im = axes[0, i].imshow(diff * 255, cmap="magma", vmin=0, vmax=max(1.0, float(np.percentile(diff * 255, 99))))
        axes[0, i].set_title(f"{f}: |protected - raw|", fontsize=9)
        axes[0, i].axis("off")
        fig.colorbar(im, ax=axes[0, i], fraction=0.046, label="8-bit levels")
        if "pos" in r.signals:
            raw, prot = r.signals["pos"]
            t = np.arange(min(len(raw), 300)) / 30.0
            axes[1, i].plot(t, raw[: len(t)], lw=1, label="raw")
            axes[1, i].plot(t, prot[: len(t)], lw=1, label="protected")
            axes[1, i].set(xlabel="s", title=f"POS pulse, r = {r.pulse['pos']['bvp_r']:.3f}")
            axes[1, i].legend(fontsize=7)
    fig.suptitle(f"{ds}, clip {direct[filters[0]][0].clip}", fontsize=10)
    return _save(fig, path)


def _bland_altman(direct: dict[str, list[ClipResult]], ds: str, path: Path) -> str:
    fig, ax = plt.subplots(figsize=(6, 4))
    for f, results in direct.items():
        a = np.array([r.pulse["pos"]["hr_raw"] for r in results if "pos" in r.pulse])
        b = np.array([r.pulse["pos"]["hr_protected"] for r in results if "pos" in r.pulse])
        if len(a):
            ax.scatter((a + b) / 2, b - a, s=14, label=f"{f}: bias {np.mean(b - a):+.2f}, LoA ±{1.96 * np.std(b - a):.2f} bpm")
    ax.axhline(0, color="k", lw=0.8)
    ax.set(xlabel="mean HR (bpm)", ylabel="HR protected - raw (bpm)", title=f"Bland-Altman, POS, {ds}")
    ax.legend(fontsize=7)
    return _save(fig, path)


def write(results: Results, templates: dict, attackers: dict[str, Recogniser], out: Path, config: dict) -> dict:
    """Summaries + report.json + report.md + figures into ``out``; returns the report dict."""
    out.mkdir(parents=True, exist_ok=True)
    report: dict = {"config": config, "filters": config["filters"], "datasets": {}}
    target = config.get("target_hr") if config.get("pulse") == "replace" else None
    for ds, paths in results.items():
        raw = paths["direct"].get("off")
        report["datasets"][ds] = {"clips": len(next(iter(paths["direct"].values())))}
        for path, filters in paths.items():
            report["datasets"][ds][path] = {
                f: summarise(res, raw or res, templates[ds], attackers, frozenset(config.get("seen", {}).get(f, ())), target) for f, res in filters.items()
            }
    report["figures"] = figures(results, report, out)
    (out / "report.json").write_text(json.dumps(_plain(report), indent=1))
    (out / "report.md").write_text(markdown(report))
    return report


def _plain(v: object) -> object:
    """JSON-safe copy: numpy scalars -> Python, inf -> "inf" (e.g. PSNR of identical frames), nan -> null."""
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not np.isfinite(v):
        return None if np.isnan(v) else ("inf" if v > 0 else "-inf")
    return v
