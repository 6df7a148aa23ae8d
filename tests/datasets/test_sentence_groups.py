"""The group-disjoint split, the sizes given to the model and loss, and batches as a pure function of (seed, step)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from datasets.sentence_groups import SentenceGroupsData
from engine.errors import ConfigError, ProjectError
from engine.progress import Progress


def groups_file(tmp_path: Path, groups: int = 60, singles: int = 7) -> Path:
    lines = [f"g{g}\tverse {g} says {'ab' * (g % 5)} {k}" for g in range(groups) for k in range(2 + g % 3)]
    lines += [f"s{i}\ta lonely sentence {i}" for i in range(singles)]
    f = tmp_path / "groups.tsv"
    f.write_text("\n".join(lines) + "\n")
    return f


def data(path: Path, **kw) -> SentenceGroupsData:
    settings = {"val_groups": 8, "test_groups": 10, "batch_size": 16, "eval_batch_size": 7, "min_count": 2} | kw
    d = SentenceGroupsData(str(path), **settings)
    d.setup("cpu", seed=3)
    return d


def test_split_is_group_disjoint_seeded_and_fixed(tmp_path: Path):
    d = data(groups_file(tmp_path))
    names = {s: set() for s in ("train", "val", "test")}
    for line in (tmp_path / "groups.tsv").read_text().splitlines():
        g, text = line.split("\t")
        for s in names:
            if text in d.texts[s]:
                names[s].add(g)
    assert not (names["train"] & names["val"]) and not (names["train"] & names["test"]) and not (names["val"] & names["test"])
    assert len(names["val"]) == 8 and len(names["test"]) == 10
    assert all(not g.startswith("s") for g in names["val"] | names["test"])  # singles are never held out
    assert {f"s{i}" for i in range(7)} <= names["train"]
    assert sum(len(t) for t in d.texts.values()) == 60 * 3 + 7  # every sentence is somewhere
    again = data(groups_file(tmp_path))
    assert again.texts == d.texts
    other = data(groups_file(tmp_path), split_seed=1)
    assert other.texts["test"] != d.texts["test"]


def test_sizes_and_labels(tmp_path: Path):
    d = data(groups_file(tmp_path))
    sizes = d.sizes()
    assert sizes["num_classes"] == 60 - 18 + 7
    assert sizes["vocab_size"] == len(d.vocab)
    x, y = d.rows["train"]
    assert x.shape == (len(d.texts["train"]), 32) and y.max().item() == sizes["num_classes"] - 1
    val = list(d.eval_batches("val"))
    assert [len(b["y"]) for b in val][:-1] == [7] * (len(val) - 1)
    labels = torch.cat([b["y"] for b in val])
    assert labels.unique().tolist() == list(range(8))  # groups within the split


def test_train_batches_are_a_pure_function_of_seed_and_step(tmp_path: Path):
    d = data(groups_file(tmp_path))
    e = data(groups_file(tmp_path))
    p = Progress(step=5, epoch=1, batch=2, total_steps=100, steps_per_epoch=d.batches_per_epoch)
    assert torch.equal(d.train_batch(p)["x"], e.train_batch(p)["x"])
    epoch = [d.train_batch(Progress(step=b, epoch=0, batch=b, total_steps=100, steps_per_epoch=d.batches_per_epoch))
             for b in range(d.batches_per_epoch)]
    seen = torch.cat([b["x"] for b in epoch])
    assert len(seen) == len(d.rows["train"][0])  # the last, smaller batch too: every sentence once per epoch
    assert torch.equal(seen.unique(dim=0), d.rows["train"][0].unique(dim=0))


def test_no_group_of_two_is_one_clear_error(tmp_path: Path):
    f = tmp_path / "single.tsv"
    f.write_text("a\tone\nb\ttwo\nc\tthree\n")
    with pytest.raises(ProjectError, match="no group has two sentences"):
        SentenceGroupsData(str(f)).sizes()
    with pytest.raises(ConfigError, match="leave no training group"):
        data(groups_file(tmp_path), val_groups=30, test_groups=30)
    with pytest.raises(ConfigError, match="data.tokens"):
        SentenceGroupsData(str(f), tokens="bytes")


def test_build_components_fills_the_sizes_the_data_decides(tmp_path: Path):
    from conftest import compose_cfg

    from engine.instantiate import build_components

    path = groups_file(tmp_path)
    overrides = ("experiment=sentsim_amsoftmax", f"data.path={path}", "data.val_groups=8", "data.test_groups=10")
    cfg = compose_cfg(*overrides)
    assert cfg.model._get_node("vocab_size")._is_missing() and cfg.loss._get_node("num_classes")._is_missing()
    data, model, loss, _ = build_components(cfg)
    assert cfg.model.vocab_size == len(data.vocab) == model.embedding.num_embeddings
    assert cfg.loss.num_classes == len(data.classes) == loss.centres.shape[0] == 60 - 18 + 7
    # a value that disagrees with the data (a typo, or a run's config against a changed file) is one line
    with pytest.raises(ConfigError, match=r"model.vocab_size=500 but the data gives vocab_size=\d+"):
        build_components(compose_cfg(*overrides, "model.vocab_size=500"))
    with pytest.raises(ConfigError, match="loss.num_classes=3 but the data gives num_classes=49"):
        build_components(compose_cfg(*overrides, "loss.num_classes=3"))
