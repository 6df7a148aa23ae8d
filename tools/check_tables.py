"""Compare the tables of a ``results.md`` (``tools/reproduce.py``) with the docs' tables of the same markers.

Usage::

    python tools/check_tables.py runs/reproduce/<post>/<date_time>/results.md [--pages docs]

``--pages``: a folder of markdown pages (default ``docs/``: a table is found on whichever page shows it) or one page.

Every cell that differs beyond its column's tolerance (``results/tables.py``: stated in the post's
recipe, ``configs/post/<post>.yaml``; a seed's spread counts as noise) is printed, one line each; exit
status 1 if any, 0 if every table agrees, 2 for a missing or malformed file.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from omegaconf import OmegaConf

from results.tables import Table, TableError, compare_all, read_pages, read_table_file

REPO = Path(__file__).resolve().parents[1]


def with_recipe(table: Table) -> Table:
    """The table with the text columns and tolerances its recipe states."""
    post, name = table.id.split("/", 1)
    path = REPO / "configs" / "post" / f"{post}.yaml"
    if not path.is_file():
        raise TableError(f"table {table.id}: no recipe {path}")
    spec = OmegaConf.to_container(OmegaConf.load(path), resolve=True)["tables"].get(name)
    if spec is None:
        raise TableError(f"table {table.id}: {path} has no table {name!r}")
    columns = spec["columns"]
    table.text_columns = [c["header"] for c in columns if "metric" not in c and c.get("agg") != "n"]
    table.tolerances = {c["header"]: dict(c.get("tol") or {}) for c in columns}
    return table


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("results", type=Path, help="a results.md written by tools/reproduce.py")
    p.add_argument("--pages", type=Path, default=REPO / "docs", help="a folder of pages, or one page (default: docs/)")
    args = p.parse_args(argv)
    try:
        fresh = read_table_file(args.results)
        pages = read_pages(args.pages)
        if not fresh:
            raise TableError(f"{args.results} has no table marked <!-- reproduce: ... -->")
        problems = compare_all({k: with_recipe(t) for k, t in fresh.items()}, pages, str(args.pages))
    except TableError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for line in problems:
        print(f"stale: {line}")
    verdict = "every cell agrees" if not problems else f"{len(problems)} difference(s)"
    print(f"{len(fresh)} table(s) against {args.pages}: {verdict}")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
