"""The benchmarks' output: the JSON result, then (unless ``--json``) a plain-text table of it."""

from __future__ import annotations

import json
from typing import Any


def emit(result: dict, rows: dict[str, dict[str, Any]], columns: list[tuple[str, str, str]], json_only: bool, first: str = "") -> None:
    """Print ``result`` as JSON and, unless ``json_only``, one line per row of ``rows`` (name ->
    record): ``columns`` are (record key, heading, format spec), the name goes in a ``first`` column."""
    print(json.dumps(result, indent=1, default=float))
    if json_only:
        return
    width = max([len(first), *map(len, rows)]) + 1
    heads = [f"{h:>{max(len(h), 7)}}" for _, h, _ in columns]
    print("\n" + f"{first:<{width}}" + " ".join(heads))
    for name, record in rows.items():
        cells = [f"{'-' if record.get(key) is None else format(record[key], spec):>{len(head)}}" for (key, _, spec), head in zip(columns, heads, strict=True)]
        print(f"{name:<{width}}" + " ".join(cells))
