"""Settings shared by ``vcam-run`` and the tray app.

Precedence: command line > TOML file (``<user config dir>/deid-vcam/config.toml``, or
``--config PATH``) > defaults. Every value is validated; a bad one raises ``ConfigError`` naming
the key, the file and the allowed values.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10
    import tomli as tomllib

import platformdirs
import tomli_w

if TYPE_CHECKING:
    from vcam.engine.pipeline import PipelineConfig

from vcam.engine.asset_files import asset
from vcam.engine.errors import ConfigError
from vcam.engine.filters import FILTERS, MAX_STRENGTH, MIN_STRENGTH
from vcam.engine.inference.backends import BACKENDS, PRECISIONS
from vcam.engine.pulse.modes import PULSE_MODES, TARGET_HR_RANGE

APP_NAME = "deid-vcam"
HOLD_FLOOR_S = 0.5  # the fail-closed hold cannot be switched off: a face lost for a frame stays hidden
DEFAULT_MODEL = asset("deid_default.onnx")
KEYED = tuple(name for name, spec in FILTERS.items() if spec.keyed)  # the first is chosen for a key without a filter
T = TypeVar("T")


def default_config_path() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml"


def default_key_path(config_path: Path | None = None) -> Path:
    """A new key file name, after the time, in the ``keys`` folder beside the config file."""
    return (config_path or default_config_path()).parent / "keys" / time.strftime("%Y%m%d-%H%M%S.key")


@dataclass(frozen=True)
class Setting:
    """What a setting is, beside its default: the user's words for it (``--help``), the values it
    may take, and the ``PipelineConfig`` fields it sets. ``vcam-run``'s options, the TOML keys and the
    checks are all made from these, so a setting is declared once."""

    help: str
    choices: tuple[str, ...] = ()  # the allowed values ("" too if that is the default)
    limits: tuple[float, float] | None = None  # the allowed range (inclusive)
    why: str = ""  # said after a value out of range
    pipeline: tuple[str, ...] = ()  # the PipelineConfig fields it sets


def setting(default: T, help: str, **meta: Any) -> T:
    """A ``Config`` field: ``default`` and its ``Setting``."""
    return field(default=default, metadata={"setting": Setting(help, **meta)})


def _spec(f: dataclasses.Field[Any]) -> Setting:
    return cast(Setting, f.metadata["setting"])


@dataclass
class Config:
    """Every setting, with its default and its ``Setting`` (the user documentation)."""

    source: str = setting("0", "demo | camera index | /dev/videoN | video file")
    sink: str = setting("virtualcam", "virtualcam | null | preview | output video path")
    filter: str = setting("anonymise", "face filter", choices=tuple(FILTERS))
    key_file: str = setting(
        "",
        "key file (vcam-key new makes one): protect with a filter the key's holder can undo (scramble, "
        "chosen when --filter is not given); vcam-restore with the same key restores a recording",
    )
    identity_seed: str = setting("", "anonymise's virtual person: N (a fixed one), random (a new one each run); default: your own, kept across runs")
    pulse: str = setting("keep", "your heart rate in the outgoing video: keep, hide, or replace it with --target-hr", choices=PULSE_MODES, pipeline=("pulse",))
    target_hr: float = setting(72.0, "bpm the video shows with --pulse replace", limits=TARGET_HR_RANGE, why="bpm", pipeline=("target_hr",))
    strength: float = setting(
        1.0,
        "how strongly the filter acts: 0.2 mildest, 1 as trained, above 1 amplified",
        limits=(MIN_STRENGTH, MAX_STRENGTH),
        why="(for the raw face use filter off)",
        pipeline=("strength",),
    )
    auto_strength: bool = setting(
        False, "raise the strength (up to 1.5) while the identity monitor still recognises the face; --strength is the floor", pipeline=("auto_strength",)
    )
    model: str = setting("", "streaming ONNX model for --filter deid, or an identity pattern .npz for pattern and adaptive (default: the shipped ones)")
    backend: str = setting("auto", "inference backend: auto = tensorrt, cuda, cpu in that order", choices=BACKENDS)
    precision: str = setting(
        "auto", "auto = fp32 (fp16 on tensorrt) | fp32 | int8 (the <model>.int8.onnx next to --model; validate its privacy first)", choices=PRECISIONS
    )
    threads: int = setting(2, "inference threads", limits=(1, 64))
    width: int = setting(1280, "camera/demo width", limits=(16, 7680))
    height: int = setting(720, "camera/demo height", limits=(16, 4320))
    fps: float = setting(30.0, "camera/demo frame rate", limits=(1, 240))
    mjpg: bool = setting(True, "ask the camera for MJPG (needed for 720p30 on most USB webcams)")
    out_width: int = setting(1280, "virtual camera width (meeting apps expect 720p; even)", limits=(16, 7680))
    out_height: int = setting(720, "virtual camera height (even)", limits=(16, 4320))
    vcam_device: str = setting("", "virtual camera device, e.g. /dev/video10 (default: the first loopback device)")
    vcam_backend: str = setting("", "pyvirtualcam backend (default: auto)", choices=("v4l2loopback", "obs", "unitycapture"))
    max_faces: int = setting(2, "faces protected by the filter; more are pixelated", limits=(1, 16), pipeline=("max_faces",))
    hold_s: float = setting(
        1.0,
        "after the face is lost, pixelate the whole frame this long",
        limits=(HOLD_FLOOR_S, 60),
        why="(the fail-closed hold cannot be switched off)",
        pipeline=("hold_s",),
    )
    deadline_ms: float = setting(200.0, "live frames older than this get the fast fallback", limits=(10, 10000), pipeline=("deadline_ms",))
    ring_size: int = setting(64, "frames buffered between capture and processing", limits=(2, 4096), pipeline=("ring_size",))
    realtime: bool = setting(False, "pace a file/demo source at its frame rate", pipeline=("realtime",))
    monitors: bool = setting(True, "the rPPG and identity monitors", pipeline=("rppg", "identity"))
    idle: bool = setting(True, "virtual camera on Linux: black frames and no processing while no app shows it (after 3 s)", pipeline=("idle_without_viewers",))

    def model_path(self) -> Path:
        return Path(self.model).expanduser() if self.model else DEFAULT_MODEL

    def pipeline_config(self) -> PipelineConfig:
        """The pipeline's knobs, each from the setting that declares it."""
        from vcam.engine.pipeline import PipelineConfig

        return PipelineConfig(**{name: getattr(self, f.name) for f in fields(self) for name in _spec(f).pipeline})

    def validate(self, origin: str = "config", origins: dict[str, str] | None = None) -> Config:
        """``self`` if every value is allowed, else ``ConfigError`` naming the key and where its value
        came from (``origins[key]``, else ``origin``)."""
        checks = [_declared_check(f, getattr(self, f.name)) for f in fields(self)]
        model = Path(self.model).expanduser() if self.model else None
        checks += [
            (
                "identity_seed",
                self.identity_seed in ("", "random") or self.identity_seed.isdigit(),
                "empty (your own virtual person), random or a non-negative integer",
            ),
            ("out_width", self.out_width % 2 == 0, "even"),
            ("out_height", self.out_height % 2 == 0, "even"),
            ("auto_strength", self.monitors or not self.auto_strength, "false when monitors is false (it follows the identity monitor)"),
            (
                "model",
                model is None or self.filter not in ("pattern", "adaptive") or (model.suffix == ".npz" and model.is_file()),
                f"an existing identity pattern .npz file for filter {self.filter}",
            ),
            ("model", model is None or self.filter != "deid" or model.is_file(), "an existing model file for filter deid"),
            (
                "filter",
                bool(self.key_file) or self.filter not in KEYED,
                "given a key file for this filter: --key-file PATH (make one with: vcam-key new)",
            ),
            (
                "key_file",
                not self.key_file or self.filter in KEYED or "key_file" not in (origins or {}),
                f"left out for filter {self.filter}, which no key can undo; keyed: {', '.join(KEYED)}",
            ),
        ]
        for key, ok, allowed in checks:
            if not ok:
                where = (origins or {}).get(key, origin)
                raise ConfigError(f"{where}: {key} must be {allowed} (got {getattr(self, key)!r})")
        return self

    def to_toml(self) -> str:
        return tomli_w.dumps(dataclasses.asdict(self))


def _declared_check(f: dataclasses.Field[Any], value: Any) -> tuple[str, bool, str]:
    """(key, ok, what is allowed) from the field's ``Setting``."""
    spec = _spec(f)
    if spec.choices:
        allowed = spec.choices + (("",) if f.default == "" else ())
        return f.name, value in allowed, f"one of {', '.join(spec.choices)}"
    if spec.limits:
        lo, hi = spec.limits
        return f.name, lo <= value <= hi, " ".join(filter(None, [f"between {lo:g} and {hi:g}", spec.why]))
    return f.name, True, ""


def add_options(parser: argparse.ArgumentParser) -> None:
    """One ``--option`` per setting, named after it (``--no-<name>`` for one that is on by
    default); an option not given stays ``None``, so ``resolve`` knows what the command line set."""
    kinds = {"str": str, "int": int, "float": float}
    for f in fields(Config):
        spec, flag = _spec(f), "--" + f.name.replace("_", "-")
        if f.type == "bool":
            on = bool(f.default)
            parser.add_argument(
                ("--no-" + flag[2:]) if on else flag, dest=f.name, action="store_const", const=not on, help=("turn off: " if on else "") + spec.help
            )
            continue
        shown = f" (default: {f.default})" if f.default != "" and "default:" not in spec.help else ""
        parser.add_argument(flag, dest=f.name, type=kinds[str(f.type)], choices=spec.choices or None, help=spec.help + shown)


def values_of(args: argparse.Namespace) -> dict[str, Any]:
    """The command line's value (None: not given) of every setting."""
    return {f.name: getattr(args, f.name) for f in fields(Config)}


def _coerce(key: str, value: Any, origin: str) -> Any:
    """Check a file value against the field's type (ints are accepted for floats)."""
    kind = str({f.name: f.type for f in fields(Config)}[key])
    ok = {
        "str": isinstance(value, str),
        "bool": isinstance(value, bool),
        "int": isinstance(value, int) and not isinstance(value, bool),
        "float": isinstance(value, (int, float)) and not isinstance(value, bool),
    }[kind]
    if not ok:
        raise ConfigError(f"{origin}: {key} must be a {kind} (got {value!r})")
    return float(value) if kind == "float" else value


def read_toml(path: Path) -> dict[str, Any]:
    """The table in the TOML file at ``path``; ``ConfigError`` if it cannot be read or parsed."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None


def load_file(path: Path) -> dict[str, Any]:
    """Values set in the TOML file at ``path`` (empty if it does not exist)."""
    if not path.is_file():
        return {}
    data = read_toml(path)
    known = {f.name for f in fields(Config)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"{path}: unknown setting {unknown[0]!r}; known: {', '.join(sorted(known))}")
    return {k: _coerce(k, v, str(path)) for k, v in data.items()}


def resolve(cli: dict[str, Any], path: Path | None = None) -> Config:
    """Defaults, overridden by the file, overridden by the CLI values that are not ``None``
    (``--key-file`` without ``--filter`` picks the first keyed filter; a saved key waits, unused, while
    the filter is not keyed). An
    explicit ``path`` must be a file; the default one may be missing. An error names where the bad
    value came from: the file or the command line (``--key``)."""
    if path is not None and not path.is_file():
        raise ConfigError(f"config file {path} {'is a folder' if path.is_dir() else 'does not exist'}")
    path = path or default_config_path()
    values = load_file(path)
    given = {k: v for k, v in cli.items() if v is not None}
    values.update(given)
    if given.get("key_file") and "filter" not in given and values.get("filter", Config.filter) not in KEYED:
        values["filter"] = KEYED[0]  # --key-file alone asks for the restorable protection
    origins = {k: f"command line (--{k.replace('_', '-')})" for k in given}
    return Config(**values).validate(str(path) if path.is_file() else "defaults", origins)


def save(config: Config, path: Path | None = None) -> Path:
    """Write the settings of ``config`` that differ from the defaults as TOML (used by the tray app
    when the user changes a setting): settings the user never changed follow the defaults of later
    versions (the default filter changed from deid to adaptive on 2026-12-05, to anonymise on 2026-12-07)."""
    path = path or default_config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    defaults = Config()
    changed = {k: v for k, v in dataclasses.asdict(config).items() if getattr(defaults, k) != v}
    path.write_text(tomli_w.dumps(changed), encoding="utf-8")
    return path
