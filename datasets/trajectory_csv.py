"""Your own observations: a CSV file of ``t, species...`` columns (optionally a ``trajectory`` column).

::

    # lines starting with # are comments (say where the data come from)
    t,x1,x2
    0,100,150
    10,165,283
    15,,290          <- an empty cell: x1 was not observed at t = 15

Each trajectory's first row is its initial state (every species given there); later rows are
observations. Rows of one trajectory are contiguous, with strictly increasing times. A malformed
file (no ``t`` column, a species that is not a column, a non-number or NaN, times that do not
increase) is refused with one line naming the file and the line.

Fitting an ODE to a few points is an inverse problem: by default validation and test use the same
file (``val_path`` / ``test_path``: null), so the fit is judged on the points it was fitted to, as
in the post (Su Jianlin, kexue.fm/archives/5643). Give other files to judge it on held-out data.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch

from datasets.trajectory_data import Split, TrajectoryData, pad_trajectories
from engine.errors import ConfigError, DataMissingError

REPO = Path(__file__).resolve().parent.parent


def read_trajectory_csv(path: str | Path, species: Sequence[str] | None = None) -> tuple[list[str], Split]:
    """``(species, split)`` from a CSV file; see the module docstring for the format."""
    path = Path(path)
    if not path.is_absolute() and not path.is_file():
        path = REPO / path
    if not path.is_file():
        raise DataMissingError(f"no trajectory file {str(path)!r}: give data.path=<a CSV file with columns t,species...>")
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()  # -sig: a spreadsheet's byte-order mark
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path} is not UTF-8 text ({e.reason} at byte {e.start})") from None
    rows = [(n, row) for n, row in enumerate(csv.reader(lines), start=1)
            if row and not row[0].lstrip().startswith("#") and any(c.strip() for c in row)]
    if not rows:
        raise ConfigError(f"{path} has no header line: the first line must name the columns, e.g. t,x1,x2")
    (header_line, header), body = rows[0], rows[1:]
    header = [h.strip() for h in header]
    if "t" not in header:
        raise ConfigError(f"{path}:{header_line}: no column named t (the header is {header})")
    if len(set(header)) != len(header):
        raise ConfigError(f"{path}:{header_line}: repeated column names in {header}")
    columns = [h for h in header if h not in ("t", "trajectory")]
    if isinstance(species, str):
        raise ConfigError(f"data.species must be a list of columns, e.g. [{species}], not a string")
    species = columns if species is None else list(species)
    missing = [s for s in species if s not in header]
    if missing or not species:
        raise ConfigError(f"{path}:{header_line}: species {missing or species} are not columns of {header}")
    col = {name: header.index(name) for name in header}
    groups: dict[str, list[tuple[int, float, list[float]]]] = {}
    last_key = None
    for n, row in body:
        if len(row) != len(header):
            raise ConfigError(f"{path}:{n}: {len(row)} fields, but the header has {len(header)}")
        t = _number(path, n, "t", row[col["t"]], empty_ok=False)
        values = [_number(path, n, s, row[col[s]], empty_ok=True) for s in species]
        key = row[col["trajectory"]].strip() if "trajectory" in col else "0"
        if key in groups and key != last_key:
            raise ConfigError(f"{path}:{n}: the rows of trajectory {key!r} must be contiguous")
        rows_of, last_key = groups.setdefault(key, []), key
        if rows_of and not t > rows_of[-1][1]:
            raise ConfigError(f"{path}:{n}: time {t:g} does not increase (the previous row of trajectory "
                              f"{key!r} is at t = {rows_of[-1][1]:g})")
        rows_of.append((n, t, values))
    if not groups:
        raise ConfigError(f"{path} has a header but no rows")
    times, values, observed, x0 = [], [], [], []
    for key, rows_of in groups.items():
        first_line, _, first = rows_of[0]
        if any(math.isnan(v) for v in first):
            raise ConfigError(f"{path}:{first_line}: the first row of trajectory {key!r} is its initial state; "
                              "give every species there")
        if len(rows_of) < 2:
            raise ConfigError(f"{path}:{first_line}: trajectory {key!r} has an initial state but no observation")
        v = torch.tensor([r[2] for r in rows_of], dtype=torch.float64)
        times.append(torch.tensor([r[1] for r in rows_of], dtype=torch.float64))
        values.append(v)
        observed.append(~torch.isnan(v))
        x0.append(v[0])
    return species, pad_trajectories(times, values, observed, torch.stack(x0))


def _number(path: Path, line: int, column: str, text: str, empty_ok: bool) -> float:
    text = text.strip()
    if text == "" and empty_ok:
        return math.nan  # not observed
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        what = "is empty" if text == "" else f"is {text!r}, not a finite number"
        raise ConfigError(f"{path}:{line}: column {column} {what}"
                          + ("" if column == "t" else " (leave a cell empty where nothing was observed)"))
    return value


class TrajectoryCSVData(TrajectoryData):
    """Trajectories from CSV files; ``true_parameters`` (optional) are the values that made the data."""

    def __init__(self, path: str, species: list[str] | None = None, val_path: str | None = None,
                 test_path: str | None = None, true_parameters: Mapping[str, float] | None = None,
                 batch_size: int = 1, eval_batch_size: int = 1000) -> None:
        super().__init__(batch_size, eval_batch_size)
        self.path, self.val_path, self.test_path = path, val_path, test_path
        self.requested_species = None if species is None else list(species)
        self.true_parameters = None if true_parameters is None else {str(k): float(v) for k, v in true_parameters.items()}

    def load(self, seed: int) -> dict[str, Split]:
        self.species, train = read_trajectory_csv(self.path, self.requested_species)
        splits = {"train": train}
        for name, path in (("val", self.val_path), ("test", self.test_path)):
            splits[name] = train if path is None else read_trajectory_csv(path, self.species)[1]
        return splits
