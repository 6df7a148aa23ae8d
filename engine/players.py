"""The players of a loss as the trainer runs them: parts, parameters, optimiser, schedule, scaler.

``trainer.players.<name>`` takes ``repeat`` (optimiser steps per training step, default 1),
``fresh_batches`` (each repeat on a batch of its own, as the VI-GAN paper's 5 discriminator steps on
5 batches; default: every repeat on the step's first batch) and ``optim`` (overrides of
``configs/optim`` for this player, e.g. its own learning rate).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn as nn

from engine.contracts import Loss
from engine.errors import ConfigError, as_bool, as_int

PLAYER_SETTINGS = {"repeat": 1, "fresh_batches": False, "optim": {}}  # each setting and its value when not given


@dataclass
class Player:
    name: str
    parts: list[str]  # the model parts this player's optimiser updates
    params: list[nn.Parameter]  # theirs, plus the loss's own parameters for this player
    repeat: int = 1
    fresh_batches: bool = False
    optimizer: torch.optim.Optimizer | None = None
    scheduler: Any = None
    scaler: torch.amp.GradScaler | None = None
    overrides: dict[str, Any] = field(default_factory=dict)


def player_spec(name: str, settings: dict[str, Any] | None) -> dict[str, Any]:
    """``trainer.players.<name>`` as a dict (empty when not given); one line when it is not a mapping."""
    spec = (settings or {}).get(name) or {}
    if not isinstance(spec, dict):
        raise ConfigError(f"trainer.players.{name} must be a mapping of settings ({', '.join(PLAYER_SETTINGS)}), got {spec!r}")
    return dict(spec)


def player_parts(loss: Loss, parts: list[str]) -> dict[str, list[str]]:
    """``loss.updates`` checked against the model's parts (``None``: one player updates all)."""
    name = type(loss).__name__
    if loss.updates is None:
        if len(loss.players) > 1:
            raise ConfigError(f"{name} has players {loss.players} and must say which parts each updates (updates = ...)")
        return {loss.players[0]: list(parts)}
    out = {}
    for player in loss.players:
        wanted = list(loss.updates.get(player, ()))
        missing = [p for p in wanted if p not in parts]
        if missing:
            raise ConfigError(f"{name}'s player {player!r} updates model part(s) {missing}, but the model has parts "
                              f"{parts}: pick a model config with these parts (model=<name>)")
        out[player] = wanted
    return out


def build_players(loss: Loss, parts: dict[str, nn.Module], settings: dict[str, Any] | None) -> dict[str, Player]:
    """One :class:`Player` per player of ``loss``, in order, with its settings and parameters checked
    (its optimiser comes from :func:`attach_optimizers`, once the run's length is known)."""
    settings = dict(settings or {})
    unknown = set(settings) - set(loss.players)
    if unknown:
        raise ConfigError(f"trainer.players names {sorted(unknown)}, but the loss's players are {list(loss.players)}")
    which = player_parts(loss, list(parts))
    players: dict[str, Player] = {}
    for name in loss.players:
        spec = player_spec(name, settings)
        extra = set(spec) - set(PLAYER_SETTINGS)
        if extra:
            raise ConfigError(f"trainer.players.{name} takes {', '.join(PLAYER_SETTINGS)}; got {sorted(extra)}")
        repeat = as_int(f"trainer.players.{name}.repeat", spec.get("repeat", PLAYER_SETTINGS["repeat"]), 1)
        fresh = as_bool(f"trainer.players.{name}.fresh_batches", spec.get("fresh_batches", PLAYER_SETTINGS["fresh_batches"]))
        params = [p for part in which[name] for p in parts[part].parameters()]
        params += list(loss.own_parameters(name))
        params = list({id(p): p for p in params if p.requires_grad}.values())
        if not params:
            raise ConfigError(f"player {name!r} of the loss has no trainable parameters (parts {which[name]} frozen or empty)")
        players[name] = Player(name, which[name], params, repeat, fresh, overrides=dict(spec.get("optim") or {}))
    owned = {id(p) for pl in players.values() for p in pl.params}
    stray = [n for n, p in loss.named_parameters() if p.requires_grad and id(p) not in owned]
    if stray:
        raise ConfigError(f"{type(loss).__name__}'s own parameters {stray[:3]} belong to no player: "
                          "say which player updates them (own_parameters)")
    return players


def draws_per_step(players: dict[str, Player]) -> int:
    """Batches one training step draws: the largest ``repeat`` of a player with ``fresh_batches``, else 1."""
    return max([p.repeat for p in players.values() if p.fresh_batches] or [1])


def attach_optimizers(players: dict[str, Player], optimizer: Callable[..., torch.optim.Optimizer],
                      scheduler: Callable[..., Any] | None, steps: int, fp16: bool, device_type: str) -> None:
    """Give each player its optimiser (``optimizer(params, **optim overrides)``), schedule over its
    ``steps * repeat`` optimiser steps, and grad scaler."""
    for player in players.values():
        try:
            player.optimizer = optimizer(player.params, **player.overrides)
            if scheduler is not None:
                player.scheduler = scheduler(player.optimizer, total_steps=steps * player.repeat)
        except (ValueError, TypeError) as e:
            raise ConfigError(f"optim/scheduler for player {player.name!r}: {e}") from None
        player.scaler = torch.amp.GradScaler(device_type, enabled=fp16)


SPARSE_OPTIMIZERS = (torch.optim.SGD, torch.optim.Adagrad)  # both take sparse and dense gradients together


def check_sparse_gradients(model: nn.Module, loss: Loss, players: dict[str, Player]) -> None:
    """One line, before the first step, when sparse gradients (``model.sparse`` / ``loss.sparse``) meet an
    optimiser that cannot take them (Adam, AdamW), or SGD's weight decay (dense by nature)."""
    sources = ["model.sparse" for m in model.modules() if isinstance(m, nn.Embedding) and m.sparse][:1]
    sources += ["loss.sparse"] if getattr(loss, "sparse", False) else []
    if not sources:
        return
    for player in players.values():
        opt = player.optimizer
        name = type(opt).__name__
        if not isinstance(opt, SPARSE_OPTIMIZERS):
            raise ConfigError(f"{' and '.join(sources)}=true give sparse gradients, which {name} cannot take: use "
                              "optim=sgd (or optim._target_=torch.optim.Adagrad), or set them to false")
        if any(group.get("weight_decay", 0) for group in opt.param_groups):
            raise ConfigError(f"{' and '.join(sources)}=true: sparse gradients cannot take {name}'s weight decay; "
                              "set optim.weight_decay=0")


def check_in_place(players: dict[str, Player], precision: str, compile: bool, grad_clip: float | None,
                   world_size: int) -> None:
    """One line, before the first step, for a setting that a loss updating in place (a per-pair SGD kernel, as
    ``model.update=per_pair``) would silently ignore: anything but plain SGD, AMP, compile, clipping, processes."""
    fix = "or set model.update=autograd"
    for player in players.values():
        opt = player.optimizer
        plain = isinstance(opt, torch.optim.SGD) and all(
            not g.get("momentum", 0) and not g.get("weight_decay", 0) and not g.get("nesterov", False)
            for g in opt.param_groups)
        if not plain:
            raise ConfigError(f"the loss applies plain SGD per pair itself, so {type(opt).__name__} with these settings "
                              f"would be ignored: use optim=sgd with optim.momentum=0 and optim.weight_decay=0, {fix}")
        if player.repeat != 1:
            raise ConfigError(f"the loss updates in place once per step: trainer.players.{player.name}.repeat must be 1")
    for setting, value, off in (("trainer.precision", precision, "32"), ("trainer.compile", compile, False),
                                ("trainer.grad_clip", grad_clip, None)):
        if value != off:
            raise ConfigError(f"{setting}={value} has no effect on a loss that updates in place (a per-pair SGD "
                              f"kernel): set {setting}={'null' if off is None else off}, {fix}")
    if world_size > 1:
        raise ConfigError(f"a loss that updates in place runs in one process ({world_size} started): its threads share "
                          f"the weights (model.threads); start one process, {fix}")
