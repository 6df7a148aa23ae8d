"""Every shipped config of the data, loss, evaluator and model groups against its contract (engine/contracts.py).

A config is checked in the context of the first experiment that uses it, shrunk by that experiment's
own smoke overrides (else in the default experiment's, with the config swapped in). A loss whose
players update named parts gets the first model config that has those parts. So a new data module,
loss, evaluator or model is checked here without a new test.
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import pytest
import torch
import torch.nn as nn
from conftest import REPO, smoke_cfg, with_stand_in
from omegaconf import DictConfig, OmegaConf, open_dict

from engine.contracts import DataModule, Evaluator, Loss, Media
from engine.errors import ConfigError, DataMissingError
from engine.instantiate import build, build_model, fill_sizes
from engine.parts import ModelParts, parts_of
from engine.players import player_parts
from engine.progress import Progress
from engine.run_logger import RunLogger

CONFIGS = REPO / "configs"
EXPERIMENTS = sorted(p.stem for p in (CONFIGS / "experiment").glob("*.yaml"))


def shipped(group: str) -> list[str]:
    return sorted(p.stem for p in (CONFIGS / group).glob("*.yaml"))


def target_of(group: str, name: str) -> str | None:
    return identity(OmegaConf.load(CONFIGS / group / f"{name}.yaml"))


def identity(cfg: DictConfig) -> str | None:
    """What a group config builds: its ``_target_``, with its reader's for data modules of one class."""
    reader = cfg.get("reader")
    if cfg.get("_target_") and isinstance(reader, DictConfig) and reader.get("_target_"):
        return f"{cfg._target_}({reader._target_})"
    return cfg.get("_target_")


def context(group: str, name: str, *extra: str) -> DictConfig:
    """A composed, shrunk train config that uses ``<group>=<name>``, with the sizes its data decides filled in."""
    for experiment in EXPERIMENTS:
        cfg = smoke_cfg(experiment)
        if target_of(group, name) and identity(cfg[group]) == target_of(group, name):
            return with_sizes(with_stand_in(smoke_cfg(experiment, f"{group}={name}", *extra)))
    return with_sizes(with_stand_in(smoke_cfg("fmnist_cnn", f"{group}={name}", *extra)))


def with_sizes(cfg: DictConfig) -> DictConfig:
    """``???`` keys of the model and loss filled from ``data.sizes()``, as ``build_components`` does."""
    sizes = build("data", cfg.data).sizes()
    fill_sizes(cfg.model, sizes)
    fill_sizes(cfg.loss, sizes)
    return cfg


def progress(batch: int = 0) -> Progress:
    return Progress(step=0, epoch=0, batch=batch, total_steps=1, steps_per_epoch=1)


@pytest.mark.parametrize("name", shipped("data"))
def test_data_module_contract(name: str):
    cfg = context("data", name)
    data = build("data", cfg.data)
    assert isinstance(data, DataModule)
    try:
        data.setup("cpu", seed=0)
    except DataMissingError as e:  # a dataset this machine cannot download: the message says how to get it
        assert "download=true" in str(e) or "make data" in str(e)
        return
    assert isinstance(data.unit, str) and data.unit and data.units_per_batch >= 1
    assert data.batches_per_epoch >= 1
    a, again = data.train_batch(progress(0)), data.train_batch(progress(0))
    assert a and all(isinstance(v, torch.Tensor) for v in a.values())
    assert all(torch.equal(a[k], again[k]) for k in a), "a batch is a pure function of (seed, epoch, batch)"
    if data.batches_per_epoch > 1:  # (one batch per epoch, as the post's single trajectory: nothing to differ)
        other = data.train_batch(progress(1))
        assert any(not torch.equal(a[k], other[k]) for k in a)
    for split in ("val", "test"):
        assert sum(1 for _ in data.eval_batches(split)) >= 1


def loss_context(name: str) -> DictConfig:
    """The loss's context; a loss whose players update named parts gets a model config that has them."""
    cfg = context("loss", name)
    loss = build("loss", cfg.loss)
    needed = {p for parts in (loss.updates or {}).values() for p in parts}
    if needed and not needed <= set(cfg.model):
        for model in shipped("model"):
            if needed <= set(OmegaConf.to_container(context("model", model).model)):
                return context("loss", name, f"model={model}", "data.normalize=minus_one_one")
    return cfg


@pytest.mark.parametrize("name", shipped("loss"))
def test_loss_contract(name: str):
    cfg = loss_context(name)
    loss, model, data = build("loss", cfg.loss), build_model(cfg.model), build("data", cfg.data)
    assert isinstance(loss, Loss) and isinstance(model, nn.Module)
    assert loss.players and all(isinstance(p, str) for p in loss.players)
    which = player_parts(loss, list(parts_of(model)))
    assert set(which) == set(loss.players) and all(which.values())
    data.setup("cpu", seed=0)
    batch = data.train_batch(progress())
    for player in loss.players:
        out = loss(model, batch, player, Progress(0, 0, 0, 10, 10, player, 0, 1))
        assert set(out) >= {"loss"} and all(v.dim() == 0 for v in out.values())
        assert out["loss"].requires_grad and math.isfinite(float(out["loss"].detach()))


@pytest.mark.parametrize("name", shipped("evaluator"))
def test_evaluator_contract(name: str, tmp_path):
    cfg = context("evaluator", name)
    evaluator, model, loss, data = (build("evaluator", cfg.evaluator), build_model(cfg.model),
                                         build("loss", cfg.loss), build("data", cfg.data))
    assert isinstance(evaluator, Evaluator) and evaluator.mode in ("max", "min", "last")
    data.setup("cpu", seed=0)
    evaluator.setup(data)
    metrics = evaluator.evaluate(model, data.eval_batches("val"), loss=loss)
    assert evaluator.monitor in metrics
    assert all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in metrics.values())
    media = evaluator.media(model, data, "val", loss=loss)
    assert isinstance(media, Media)
    for x in media.images.values():
        assert x.dim() == 4 and float(x.min()) >= 0 and float(x.max()) <= 1
    RunLogger(tmp_path, events=False).media(0, media, "val", png_dir=tmp_path)  # as eval.py writes them
    assert sorted(p.stem for p in tmp_path.glob("*.png")) == sorted(f"val_{k}" for k in [*media.images, *media.figures])
    assert not [k for k, fig in media.figures.items() if plt.fignum_exists(fig.number)], "figures left open after logging"


def model_configs() -> list[str]:
    """``name`` for configs/model/<name>.yaml and ``part/name`` for the part groups configs/model/<part>/<name>.yaml."""
    return shipped("model") + sorted(f"{p.parent.name}/{p.stem}" for p in (CONFIGS / "model").glob("*/*.yaml"))


@pytest.mark.parametrize("name", model_configs())
def test_model_config_builds(name: str):
    if "/" in name:  # a part: resolved in the default config's context (its ${data...} interpolations)
        cfg = context("model", shipped("model")[0])
        with open_dict(cfg):
            cfg.part = OmegaConf.load(CONFIGS / "model" / f"{name}.yaml")
        model = build(f"model.{name.split('/')[0]}", cfg.part)
    else:
        model = build_model(context("model", name).model)
    assert isinstance(model, nn.Module)
    for part_name, part in parts_of(model).items():
        assert sum(p.numel() for p in part.parameters()) > 0, part_name
    if isinstance(model, ModelParts):
        with pytest.raises(ConfigError, match="is not called itself"):
            model(torch.zeros(1))
