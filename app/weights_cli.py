"""``vcam-weights``: fetch and convert the pretrained rPPG judges' weights into the user cache
(needs the ``train`` extra: torch, h5py). Prints where each set is; errors are one line."""

from __future__ import annotations

import sys

from vcam.engine.errors import VcamError

from .cli import Parser, guarded, train_extra_missing


def main(argv: list[str] | None = None) -> int:
    ap = Parser(prog="vcam-weights", description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", default=["physnet.pure", "physformer.pure"], help="weight sets (default: physnet.pure physformer.pure)")
    args = ap.parse_args(argv)
    try:
        from vcam.models import physformer, physnet, weights
    except ImportError as exc:
        return train_extra_missing("vcam-weights", exc)
    converters = {"physnet": physnet.convert_keras, "physformer": physformer.convert_keras}

    def body() -> int:
        for name in args.names:
            family = name.split(".")[0]
            if family not in converters:
                raise VcamError(f"no converter for {name!r} yet; available: {', '.join(k for k in weights.H5_FILES if k.split('.')[0] in converters)}")
            weights.ensure_weights(name, converters[family])
            print(f"{name}: {weights.weights_dir() / (name + '.pt')}")
        return 0

    return guarded("vcam-weights", body)


if __name__ == "__main__":
    sys.exit(main())
