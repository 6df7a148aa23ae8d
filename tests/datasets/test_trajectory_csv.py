"""A user's CSV of trajectories: the format, sparse cells, and one line for each kind of malformed file."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from conftest import REPO

from datasets.trajectory_csv import TrajectoryCSVData, read_trajectory_csv
from engine.errors import ConfigError, DataMissingError
from engine.progress import Progress


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "obs.csv"
    path.write_text(text)
    return path


def test_the_posts_seven_points_are_shipped_with_their_source():
    species, split = read_trajectory_csv(REPO / "datasets" / "files" / "competition.csv")
    assert species == ["x1", "x2"]
    assert split["t"].tolist() == [[0, 10, 15, 30, 36, 40, 42]]
    assert split["y"][0, :, 0].tolist() == [100, 165, 197, 280, 305, 318, 324]
    assert split["y"][0, :, 1].tolist() == [150, 283, 290, 276, 269, 266, 264]
    assert split["x0"].tolist() == [[100, 150]]
    assert split["mask"].sum() == 12 and not split["mask"][:, 0].any()  # the initial state is an input
    assert "kexue.fm/archives/5643" in (REPO / "datasets" / "files" / "competition.csv").read_text()


def test_several_trajectories_of_different_lengths_and_empty_cells(tmp_path: Path):
    path = write(tmp_path, "# made up\ntrajectory,t,A,B\na,0,1,2\na,0.5,,3\na,1.5,4,5\nb,2,7,8\nb,3,9,\n")
    species, split = read_trajectory_csv(path)
    assert species == ["A", "B"]
    assert split["t"].tolist() == [[0, 0.5, 1.5], [2, 3, 3]]  # b is padded by repeating its last time
    assert split["mask"].tolist() == [[[False, False], [False, True], [True, True]],
                                      [[False, False], [True, False], [False, False]]]
    assert split["x0"].tolist() == [[1, 2], [7, 8]]
    assert read_trajectory_csv(path, ["B"])[1]["y"].shape == (2, 3, 1)


@pytest.mark.parametrize("text, match", [
    ("x,A\n0,1\n1,2\n", r"obs\.csv:1: no column named t"),
    ("t,A\n0,1\n1,2\n", r"species \['B'\] are not columns"),
    ("t,A,B\n0,1,2\n1,nan,3\n", r"obs\.csv:3: column A is 'nan', not a finite number"),
    ("t,A,B\n0,1,2\n1,x,3\n", r"obs\.csv:3: column A is 'x'"),
    ("t,A,B\n0,1,2\n0,2,3\n", r"obs\.csv:3: time 0 does not increase"),
    ("t,A,B\n0,1,2\n1,2\n", r"obs\.csv:3: 2 fields, but the header has 3"),
    ("t,A,B\n0,,2\n1,2,3\n", r"obs\.csv:2: the first row .* give every species"),
    ("t,A,B\n0,1,2\n", "has an initial state but no observation"),
    ("trajectory,t,A,B\na,0,1,2\nb,0,1,2\na,1,1,2\n", "must be contiguous"),
    ("t,A,B\n", "has a header but no rows"),
    ("t,A,B\n0,1,2\n,1,1\n", r"obs\.csv:3: column t is empty"),
])
def test_a_malformed_file_is_one_line_naming_file_and_line(tmp_path: Path, text: str, match: str):
    species = ["A", "B"] if "'B'" in match else None
    with pytest.raises(ConfigError, match=match):
        read_trajectory_csv(write(tmp_path, text), species)


def test_missing_and_non_utf8_files(tmp_path: Path):
    with pytest.raises(DataMissingError, match="data.path="):
        read_trajectory_csv(tmp_path / "nope.csv")
    path = tmp_path / "latin1.csv"
    path.write_bytes("t,Ä\n0,1\n1,2\n".encode("latin-1"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        read_trajectory_csv(path)


def test_the_data_module_batches_and_judges_on_the_same_points_by_default(tmp_path: Path):
    path = write(tmp_path, "trajectory,t,A\na,0,1\na,1,2\nb,0,3\nb,1,4\nc,0,5\nc,1,6\n")
    data = TrajectoryCSVData(str(path), batch_size=2, true_parameters={"k": 1})
    data.setup("cpu", seed=0)
    assert data.batches_per_epoch == 2 and data.true_parameters == {"k": 1.0}
    progress = Progress(0, 0, 0, 4, 2)
    first, again = data.train_batch(progress), data.train_batch(progress)
    assert all(torch.equal(first[k], again[k]) for k in first) and first["t"].shape == (2, 2)
    last = data.train_batch(Progress(1, 0, 1, 4, 2))
    assert sorted(first["x0"][:, 0].tolist() + last["x0"][:, 0].tolist()) == [1, 3, 5]
    assert torch.equal(next(data.eval_batches("test"))["y"], data.splits["train"]["y"])
    with pytest.raises(ConfigError, match="larger than the training set"):
        big = TrajectoryCSVData(str(path), batch_size=4)
        big.setup("cpu")
        assert big.batches_per_epoch


def test_a_spreadsheets_byte_order_mark_and_species_as_a_string(tmp_path: Path):
    path = tmp_path / "excel.csv"
    path.write_bytes("\ufefft,x1\n0,1\n1,2\n".encode("utf-8"))
    species, split = read_trajectory_csv(path)
    assert species == ["x1"] and split["t"].tolist() == [[0.0, 1.0]]
    with pytest.raises(ConfigError, match=r"a list of columns, e.g. \[x1\]"):
        read_trajectory_csv(path, "x1")
