"""A post's results tables: built from its sweeps by a recipe, written as markdown, read back, compared.

A recipe table (``configs/post/<post>.yaml``, ``tables:``) names the sweep (``step``) its numbers come
from, its rows and its columns:

- a row: ``cells`` (its text columns, e.g. ``{method: mixup}``), ``match`` (the overrides a job must
  have: ``{experiment: fmnist_mixup_beta}``; a key the job did not override is looked up in its saved
  config) and optionally ``key`` (substituted for ``{key}`` in a column's metric name);
- a column: ``header`` and either nothing more (a text column, from the rows' ``cells``) or ``metric``
  (a key of the job's ``file``, default its result file, ``metrics.json``; of a ``.tsv``, the second
  column of the row whose first column is the key; ``a.b`` walks into nested objects) with
  ``agg`` (``mean`` over the matching jobs, shown ``mean ± std`` from two jobs on; ``sum_of_n``: ``k/n``;
  ``n``: the number of jobs), ``complement`` (``1 - value``: an error from an accuracy), ``scale``,
  ``match`` (a column of a grid: overrides of its own), ``digits``, ``format: sci`` (``8.8e-6``),
  ``suffix``, ``thousands``, ``spread`` (a metric printed after ``±`` for a single run, e.g. a std over
  positions), ``error: sem`` (print the standard error ``std / sqrt(n)`` after ``±`` instead of the std),
  ``sep`` (of ``sum_of_n``) and ``tol``.
A row without ``match`` is text only (the post's own numbers, a row not run): all its cells from ``cells``.

The table's first line in markdown is a marker, ``<!-- reproduce: <post>/<table> size=<size> -->``;
the page that shows the table (``docs/<post>.md``) carries the same marker above it, which is how :func:`compare`
finds it. A cell is stale when a number in it differs from the page's by more than the column's tolerance:
``abs + rel * |page| + sigmas * max(std)`` (``std``: the spread over seeds printed after ``±``; a
seed's noise is a tolerance, not a difference), plus half a unit of the page's last printed digit.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from engine.errors import ProjectError
from results.sweeps import Job, as_float

MARKER = re.compile(r"<!--\s*reproduce:\s*(?P<id>[\w.-]+/[\w.-]+)(?:\s+size=(?P<size>\w+))?\s*-->")
NUMBER = re.compile(r"[-+]?(?:\d[\d,]*\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


class TableError(ProjectError):
    """A malformed table or recipe: one line for the user (``engine.cli``)."""


@dataclass
class Table:
    id: str
    size: str
    header: list[str]
    rows: list[list[str]]
    text_columns: list[str] = field(default_factory=list)  # columns of text from the recipe, not measured
    tolerances: dict[str, dict[str, float]] = field(default_factory=dict)

    def key(self, row: list[str]) -> tuple[str, ...]:
        """A row's identity: its leading text columns (``data``, ``lr``, ``lam``), else its first cell."""
        lead = []
        for c in self.header:
            if c not in self.text_columns:
                break
            lead.append(c)
        return tuple(clean(row[self.header.index(c)]) for c in lead or self.header[:1])


def clean(cell: str) -> str:
    return cell.replace("**", "").strip()


def job_value(job: Job, key: str) -> str | None:
    """The value of ``key`` for a job: its override (``+key=v`` too), else its saved config's; None if neither."""
    for o in job.overrides:
        k, _, v = o.partition("=")
        if k.lstrip("+~") == key:
            return v
    config = saved_config(job.folder)
    value = None if config is None else OmegaConf.select(config, key, default=None)
    return None if value is None else str(value)


@cache
def saved_config(folder: Path) -> Any:
    """A job's saved config (``.hydra/config.yaml``), read once per folder; None without one."""
    path = folder / ".hydra" / "config.yaml"
    return OmegaConf.load(path) if path.is_file() else None


def same_value(a: str | None, b: Any) -> bool:
    if a is None:
        return False
    fa, fb = as_float(_number(a)), as_float(_number(str(b)))
    if fa is not None and fb is not None:
        return math.isclose(fa, fb, rel_tol=1e-9, abs_tol=0.0)
    return a == str(b)


def _number(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text


def lookup(data: dict[str, Any], key: str) -> Any:
    if key in data:
        return data[key]
    node: Any = data
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def read_value(job: Job, column: dict[str, Any], row: dict[str, Any]) -> float | None:
    metric = str(column["metric"]).replace("{key}", str(row.get("key", "")))
    file = column.get("file")
    if file is None:  # the job's result file (metrics.json, or the step's `result`)
        data = job.metrics
    elif not (job.folder / file).is_file():
        data = None
    elif file.endswith(".tsv"):  # a table with a header line: its first column -> its second
        rows = [line.split("\t") for line in (job.folder / file).read_text(encoding="utf-8").splitlines()[1:]]
        data = {r[0]: _number(r[1]) for r in rows if len(r) > 1}
    else:
        data = json.loads((job.folder / file).read_text(encoding="utf-8"))
    value = None if data is None else as_float(lookup(data, metric))
    return 1.0 - value if value is not None and column.get("complement") else value


def fmt_number(x: float, column: dict[str, Any]) -> str:
    digits = int(column.get("digits", 3))
    if column.get("format") == "sci":  # 8.8e-6
        mantissa, exponent = f"{x:.{digits}e}".split("e")
        return f"{mantissa}e{int(exponent)}"
    return f"{x:,.{digits}f}" if column.get("thousands") else f"{x:.{digits}f}"


def metric_cell(values: list[float], column: dict[str, Any], n_jobs: int, spread: float | None = None) -> str:
    """``mean ± std`` over the jobs (``spread``: a ``±`` of its own metric instead); "–" when no job finished,
    "" when they did but none has the metric (a column that does not apply to the row)."""
    agg = column.get("agg", "mean")
    if agg == "n":
        return str(n_jobs)
    if not values:
        return "–" if n_jobs == 0 else ""
    scale, suffix = float(column.get("scale", 1.0)), column.get("suffix", "")
    if agg == "sum_of_n":
        return f"{round(sum(values))}{column.get('sep', '/')}{len(values)}"
    if agg != "mean":
        raise TableError(f"column {column['header']!r}: agg={agg!r} is not one of mean, sum_of_n, n")
    mean = sum(values) / len(values) * scale
    if spread is not None:
        return f"{fmt_number(mean, column)} ± {fmt_number(spread * scale, column)}{suffix}"
    if len(values) > 1 and column.get("std", True):
        std = math.sqrt(sum((v * scale - mean) ** 2 for v in values) / (len(values) - 1))
        if column.get("error") == "sem":  # the standard error of the mean, as PacGAN's tables give it
            std /= math.sqrt(len(values))
        return f"{fmt_number(mean, column)} ± {fmt_number(std, column)}{suffix}"
    return f"{fmt_number(mean, column)}{suffix}"


COLUMN_KEYS = {"header", "metric", "file", "agg", "complement", "scale", "match", "digits", "format", "suffix",
               "thousands", "spread", "sep", "std", "error", "tol"}
ROW_KEYS = {"cells", "match", "key", "step"}
TABLE_KEYS = {"step", "caption", "note", "columns", "rows"}


def check_spec(table_id: str, spec: dict[str, Any]) -> None:
    """Refuse a recipe table with a key nothing reads (a typo would silently turn a column into text)."""
    for where, entries, known in ((f"table {table_id}", [spec], TABLE_KEYS),
                                  (f"a column of {table_id}", spec.get("columns", []), COLUMN_KEYS),
                                  (f"a row of {table_id}", spec.get("rows", []), ROW_KEYS)):
        for entry in entries:
            if unknown := set(entry) - known:
                raise TableError(f"{where}: unknown key(s) {sorted(unknown)}; known: {sorted(known)}")
    if not spec.get("columns") or any("header" not in c for c in spec["columns"]):
        raise TableError(f"table {table_id}: give columns, each with a header")


def build_table(table_id: str, spec: dict[str, Any], jobs: dict[str, list[Job]], size: str) -> Table:
    """The table ``spec`` describes, from the jobs of its steps' sweeps (``jobs``: by step name; a row may name
    its own ``step``)."""
    check_spec(table_id, spec)
    columns = spec["columns"]
    header = [c["header"] for c in columns]
    text_columns = [c["header"] for c in columns if "metric" not in c and c.get("agg") != "n"]
    rows = []
    for row in spec["rows"]:
        if "match" not in row:  # a row of text only (the post's own numbers, a row not run)
            rows.append([str((row.get("cells") or {}).get(c["header"], "")) for c in columns])
            continue
        match = row["match"] or {}
        done_row = [j for j in jobs.get(row.get("step", spec["step"]), [])
                    if j.metrics is not None and all(same_value(job_value(j, k), v) for k, v in match.items())]
        cells = []
        for column in columns:
            if "metric" in column or column.get("agg") == "n":
                if column.get("match"):  # a grid: the column's own overrides too (min_prob x min_pmi)
                    done = [j for j in done_row if all(same_value(job_value(j, k), v) for k, v in column["match"].items())]
                else:
                    done = done_row
                values = [] if "metric" not in column else [v for j in done if (v := read_value(j, column, row)) is not None]
                spread = None
                if column.get("spread") and len(done) == 1:  # e.g. log Z's mean ± its std over positions
                    spread = read_value(done[0], {**column, "metric": column["spread"], "complement": False}, row)
                cells.append(metric_cell(values, column, len(done), spread))
            else:
                cells.append(str((row.get("cells") or {}).get(column["header"], "")))
        rows.append(cells)
    tolerances = {c["header"]: dict(c.get("tol") or {}) for c in columns}
    return Table(table_id, size, header, rows, text_columns, tolerances)


def to_markdown(table: Table) -> str:
    lines = [f"<!-- reproduce: {table.id} size={table.size} -->",
             "| " + " | ".join(table.header) + " |",
             "|" + "|".join("---" if h in table.text_columns else "---:" for h in table.header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in table.rows]
    return "\n".join(lines) + "\n"


def split_row(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def read_tables(text: str) -> dict[str, Table]:
    """Every marked table of a markdown text (a docs page or a results.md), by id."""
    lines = text.splitlines()
    found: dict[str, Table] = {}
    for i, line in enumerate(lines):
        m = MARKER.fullmatch(line.strip())  # a marker on a line of its own (one quoted in prose is not one)
        if not m:
            continue
        j = i + 1
        while j < len(lines) and not lines[j].strip():
            j += 1
        block = []
        while j < len(lines) and lines[j].lstrip().startswith("|"):
            block.append(lines[j])
            j += 1
        if len(block) < 2:
            raise TableError(f"line {i + 1}: the marker {m['id']!r} is not followed by a markdown table")
        found[m["id"]] = Table(m["id"], m["size"] or "full", split_row(block[0]), [split_row(r) for r in block[2:]])
    return found


def numbers(cell: str) -> tuple[list[float], float, list[int]]:
    """The numbers of a cell (``±`` and what follows it apart), the largest ``±`` spread, and each number's
    decimals. ``0.770 ± 0.007`` -> ([0.77], 0.007, [3]); ``12,037`` -> ([12037.0], 0, [0])."""
    text = clean(cell)
    spread = 0.0
    values, decimals = [], []
    parts = re.split(r"±", text)
    for k, part in enumerate(parts):
        found = NUMBER.findall(part)
        if k > 0 and found:  # the first number after ± is a spread
            spread = max(spread, abs(float(found[0].replace(",", ""))))
            found = found[1:]
        for f in found:
            values.append(float(f.replace(",", "")))
            mantissa, _, exponent = f.lower().partition("e")
            places = len(mantissa.split(".")[1]) if "." in mantissa else 0
            decimals.append(places - int(exponent or 0))  # 8.8e-6: the last digit is 1e-7
    return values, spread, decimals


def compare(fresh: Table, page: Table) -> list[str]:
    """One line per stale cell, missing row or missing column of ``page`` against ``fresh`` (whose recipe
    gives the tolerances and which columns name a row); [] when every cell agrees."""
    problems = []
    ref_rows = {fresh.key(_pad(r, page.header, fresh.header)): r for r in page.rows
                if len(r) == len(page.header)}
    for col in fresh.header:
        if col not in page.header:
            problems.append(f"{fresh.id}: column {col!r} is not in the page's table")
    for row in fresh.rows:
        key = fresh.key(row)
        label = " / ".join(key)
        if key not in ref_rows:
            problems.append(f"{fresh.id}: row {label!r} is not in the page's table")
            continue
        ref = ref_rows[key]
        for col, cell in zip(fresh.header, row):
            if col in fresh.text_columns or col not in page.header:
                continue
            old = ref[page.header.index(col)]
            if why := stale(cell, old, fresh.tolerances.get(col, {})):
                problems.append(f"{fresh.id}: row {label!r}, column {col!r}: page {clean(old)!r}, now {cell!r} ({why})")
    return problems


def compare_all(fresh: dict[str, Table], reference: dict[str, Table], where: str) -> list[str]:
    """:func:`compare` for every fresh table against the reference table of the same marker (``where``: the
    reference's name, for the messages); tables of different sizes are reported, not compared."""
    problems = []
    for table_id, table in fresh.items():
        if table_id not in reference:
            problems.append(f"{table_id}: no table marked '<!-- reproduce: {table_id} -->' in {where}")
        elif reference[table_id].size != table.size:
            problems.append(f"{table_id}: size={table.size} here, size={reference[table_id].size} in {where}: not comparable")
        else:
            problems += compare(table, reference[table_id])
    return problems


def _pad(row: list[str], header: list[str], wanted: list[str]) -> list[str]:
    """A page's row re-ordered to the fresh table's columns (missing ones empty), to compute its key."""
    return [row[header.index(c)] if c in header else "" for c in wanted]


def stale(new: str, old: str, tol: dict[str, float]) -> str:
    """Why ``new`` differs from the page's ``old`` beyond ``tol`` (module docstring), or ``""``."""
    a, spread_a, _ = numbers(new)
    b, spread_b, decimals = numbers(old)
    if not b and not a:
        return "" if clean(new) == clean(old) else "text differs"
    if len(a) != len(b):
        return "the numbers differ"
    for x, y, d in zip(a, b, decimals):
        allowed = (float(tol.get("abs", 0.0)) + float(tol.get("rel", 0.0)) * abs(y)
                   + float(tol.get("sigmas", 0.0)) * max(spread_a, spread_b) + 0.5 * 10.0 ** -d)
        if not abs(x - y) <= allowed * (1 + 1e-9):
            return f"off by {abs(x - y):.4g}, allowed {allowed:.4g}"
    return ""


def read_table_file(path: Path) -> dict[str, Table]:
    if not path.is_file():
        raise TableError(f"{path} does not exist")
    return read_tables(path.read_text(encoding="utf-8"))


def read_pages(path: Path) -> dict[str, Table]:
    """Every marked table of a markdown page, or of every page (``*.md``) under a folder (``docs/``): a table lives
    on whichever page shows it; a marker found on two pages is refused (which one would be checked?)."""
    pages = sorted(path.rglob("*.md")) if path.is_dir() else [path]
    found: dict[str, Table] = {}
    where: dict[str, Path] = {}
    for page in pages:
        for table_id, table in read_table_file(page).items():
            if table_id in found:
                raise TableError(f"table {table_id} is marked on two pages, {where[table_id]} and {page}: keep one")
            found[table_id], where[table_id] = table, page
    return found
