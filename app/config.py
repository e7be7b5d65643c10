"""Settings shared by ``vcam-run`` and the tray app.

Precedence: command line > TOML file (``<user config dir>/deid-vcam/config.toml``, or
``--config PATH``) > defaults. Every value is validated; a bad one raises ``ConfigError`` naming
the key, the file and the allowed values.
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10
    import tomli as tomllib

import platformdirs
import tomli_w

from vcam.engine.asset_files import asset
from vcam.engine.errors import ConfigError
from vcam.engine.filters import FILTERS, MAX_STRENGTH, MIN_STRENGTH
from vcam.engine.inference.backends import BACKENDS, PRECISIONS
from vcam.engine.pulse.edit import PULSE_MODES, TARGET_HR_RANGE

APP_NAME = "deid-vcam"
HOLD_FLOOR_S = 0.5  # the fail-closed hold cannot be switched off: a face lost for a frame stays hidden
DEFAULT_MODEL = asset("deid_default.onnx")


def default_config_path() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml"


@dataclass
class Config:
    """Every setting, with its default. Field comments are the user documentation."""

    source: str = "0"  # demo | camera index | /dev/videoN | video file
    sink: str = "virtualcam"  # virtualcam | null | preview | <out.mp4>
    filter: str = "anonymise"  # one of vcam.engine.filters.FILTERS
    identity_seed: str = ""  # anonymise's virtual person: empty = yours (drawn once, kept) | random = a new one each run | an integer
    pulse: str = "keep"  # keep | hide | replace: your heart rate in the outgoing video (replace shows target_hr)
    target_hr: float = 72.0  # bpm shown with pulse = replace (40..180)
    strength: float = 1.0  # 0.2 = mildest protection, 1 = as trained, 1.5 = amplified (the raw face is filter = "off")
    auto_strength: bool = False  # raise the strength (up to 1.5) while the identity monitor still recognises you
    model: str = ""  # streaming ONNX model (deid) or identity pattern .npz (pattern, adaptive); empty = the shipped ones
    backend: str = "auto"  # auto | tensorrt | cuda | cpu
    precision: str = "auto"  # auto = fp32 (fp16 on TensorRT) | fp32 | int8 (the <model>.int8.onnx companion)
    threads: int = 2  # inference threads (2 measured best on a 2-core CPU)
    width: int = 1280  # requested camera size / demo size
    height: int = 720
    fps: float = 30.0
    mjpg: bool = True  # ask the camera for MJPG (needed for 720p30 on most USB webcams)
    out_width: int = 1280  # virtual camera size (meeting apps expect 720p)
    out_height: int = 720
    vcam_device: str = ""  # e.g. /dev/video10; empty = first loopback device
    vcam_backend: str = ""  # v4l2loopback | obs | unitycapture; empty = auto
    max_faces: int = 2  # faces protected by the filter; more get pixelated
    hold_s: float = 1.0  # after the face is lost, pixelate the whole frame this long (at least HOLD_FLOOR_S)
    deadline_ms: float = 200.0  # live frames older than this get the fast fallback
    ring_size: int = 64
    realtime: bool = False  # pace file/demo sources at their frame rate
    monitors: bool = True  # rPPG + identity monitors
    idle: bool = True  # virtual camera on Linux: black frames, no processing while no app shows it

    def model_path(self) -> Path:
        return Path(self.model).expanduser() if self.model else DEFAULT_MODEL

    def validate(self, origin: str = "config", origins: dict[str, str] | None = None) -> Config:
        """``self`` if every value is allowed, else ``ConfigError`` naming the key and where its value
        came from (``origins[key]``, else ``origin``)."""
        model = Path(self.model).expanduser() if self.model else None
        checks = [
            ("filter", self.filter in FILTERS, f"one of {', '.join(FILTERS)}"),
            (
                "identity_seed",
                self.identity_seed in ("", "random") or self.identity_seed.isdigit(),
                "empty (your own virtual person), random or a non-negative integer",
            ),
            ("pulse", self.pulse in PULSE_MODES, ", ".join(PULSE_MODES)),
            ("target_hr", TARGET_HR_RANGE[0] <= self.target_hr <= TARGET_HR_RANGE[1], f"between {TARGET_HR_RANGE[0]:g} and {TARGET_HR_RANGE[1]:g} bpm"),
            ("strength", MIN_STRENGTH <= self.strength <= MAX_STRENGTH, f"between {MIN_STRENGTH} and {MAX_STRENGTH} (for the raw face use filter off)"),
            ("backend", self.backend in BACKENDS, ", ".join(BACKENDS)),
            ("precision", self.precision in PRECISIONS, ", ".join(PRECISIONS)),
            ("threads", 1 <= self.threads <= 64, "between 1 and 64"),
            ("width", 16 <= self.width <= 7680, "between 16 and 7680"),
            ("height", 16 <= self.height <= 4320, "between 16 and 4320"),
            ("out_width", 16 <= self.out_width <= 7680 and self.out_width % 2 == 0, "even, between 16 and 7680"),
            ("out_height", 16 <= self.out_height <= 4320 and self.out_height % 2 == 0, "even, between 16 and 4320"),
            ("fps", 1.0 <= self.fps <= 240.0, "between 1 and 240"),
            ("max_faces", 1 <= self.max_faces <= 16, "between 1 and 16"),
            ("hold_s", HOLD_FLOOR_S <= self.hold_s <= 60.0, f"between {HOLD_FLOOR_S} and 60 (the fail-closed hold cannot be switched off)"),
            ("deadline_ms", 10.0 <= self.deadline_ms <= 10000.0, "between 10 and 10000"),
            ("ring_size", 2 <= self.ring_size <= 4096, "between 2 and 4096"),
            ("vcam_backend", self.vcam_backend in ("", "v4l2loopback", "obs", "unitycapture"), "v4l2loopback, obs or unitycapture"),
            ("auto_strength", self.monitors or not self.auto_strength, "false when monitors is false (it follows the identity monitor)"),
            (
                "model",
                model is None or self.filter not in ("pattern", "adaptive") or (model.suffix == ".npz" and model.is_file()),
                f"an existing identity pattern .npz file for filter {self.filter}",
            ),
            ("model", model is None or self.filter != "deid" or model.is_file(), "an existing model file for filter deid"),
        ]
        for key, ok, allowed in checks:
            if not ok:
                where = (origins or {}).get(key, origin)
                raise ConfigError(f"{where}: {key} must be {allowed} (got {getattr(self, key)!r})")
        return self

    def to_toml(self) -> str:
        return tomli_w.dumps(dataclasses.asdict(self))


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
    """Defaults, overridden by the file, overridden by the CLI values that are not ``None``. An
    explicit ``path`` must be a file; the default one may be missing. An error names where the bad
    value came from: the file or the command line (``--key``)."""
    if path is not None and not path.is_file():
        raise ConfigError(f"config file {path} {'is a folder' if path.is_dir() else 'does not exist'}")
    path = path or default_config_path()
    values = load_file(path)
    given = {k: v for k, v in cli.items() if v is not None}
    values.update(given)
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
