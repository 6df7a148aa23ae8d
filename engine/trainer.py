"""The one training loop.

Every experiment runs through ``Trainer.fit``. Each step, for each player of the loss in order
(``repeat`` times each), it draws that player's batch, computes its loss, back-propagates (under
several processes through that player's ``DistributedDataParallel``, which averages its gradients over
ranks during the backward pass: ``engine.distributed``), clips, steps that player's optimiser and schedule, and updates the EMA
copies of the parts it changed. A loss that updates in place (``Loss.updates_in_place``: word2vec's
per-pair SGD) applies its update while computing its loss, at the schedule's learning rate.
Validation picks ``best.pt``; the final evaluation restores
``best.pt`` (every part, the loss, EMA copies) and writes ``metrics.json``, TensorBoard's
hparams and the evaluator's figures.

The data position is the global step alone: step ``s`` draws batches ``k * D .. k * D + D - 1`` of
epoch ``e`` (``e, k = divmod(s, steps_per_epoch)``, ``D`` = batches drawn per step, 1 unless a player
takes fresh batches), and every random stream (every rank's) is in the checkpoint, so a resumed run is bit-exact.
"""

from __future__ import annotations

import json
import logging
import math
import os
import sys
import time
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
from tqdm import tqdm

from engine import distributed as D
from engine.checkpoint import code_version, config_changes, load_checkpoint, rng_state, save_checkpoint, set_rng_state
from engine.cluster_env import export_submitit_env
from engine.contracts import Batch, DataModule, Evaluator, Loss
from engine.devices import select_device
from engine.errors import (
    CheckpointError,
    ConfigError,
    NonFiniteLossError,
    as_bool,
    as_int,
    as_number,
    one_line,
)
from engine.evaluation import evaluate_to_file
from engine.metrics import headline
from engine.parts import map_parts
from engine.players import (
    PLAYER_SETTINGS,
    attach_optimizers,
    build_players,
    check_in_place,
    check_sparse_gradients,
    draws_per_step,
)
from engine.progress import Progress
from engine.run_logger import RunLogger
from engine.seeding import seed_everything, stream_seed
from engine.signals import StopRequest
from engine.weights import PART_SETTINGS, Weights

log = logging.getLogger(__name__)

PRECISIONS = {"32": None, "bf16": torch.bfloat16, "fp16": torch.float16}
# what a player's or a part's setting is when not given: written out at that value, it changes nothing on resume
# (and settings added later whose value then is the old behaviour: runs started before them resume)
SETTING_DEFAULTS = {**{f"trainer.players.*.{k}": v for k, v in PLAYER_SETTINGS.items()},
                    **{f"trainer.parts.*.{k}": v for k, v in PART_SETTINGS.items()},
                    "data.carry_state": False, "model.carry_state": False,
                    "trainer.find_unused_parameters": False, "trainer.dist_timeout_s": 600}


class Trainer:
    """Trains ``model`` (one module or ``ModelParts``) on ``loss`` over ``data``.

    The keyword settings are ``configs/trainer``'s. ``optimizer`` and ``scheduler`` are partials,
    called once per player as ``optimizer(params, **players[p].optim)`` and
    ``scheduler(opt, total_steps=N)``. ``players`` and ``parts`` are described in
    ``engine.players`` and ``engine.weights``. ``callbacks`` are called with the trainer after every step.
    """

    def __init__(
        self,
        model: nn.Module,
        loss: Loss,
        data: DataModule,
        evaluator: Evaluator,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable[..., Any] | None = None,
        run_dir: str | Path = "runs/unnamed",
        seed: int = 0,
        max_epochs: int = 10,
        max_steps: int | None = None,
        val_every_steps: int | None = None,
        log_every_steps: int = 50,
        checkpoint_every_steps: int | None = None,
        grad_clip: float | None = None,
        precision: str = "32",
        compile: bool = False,
        device: str = "auto",
        progress: bool = True,
        val_png: bool = False,
        players: dict[str, dict[str, Any]] | None = None,
        parts: dict[str, dict[str, Any]] | None = None,
        config_text: str = "",
        hparams: dict[str, Any] | None = None,
        hparams_shown: dict[str, bool] | None = None,
        callbacks: list[Callable[[Trainer], None]] | None = None,
        find_unused_parameters: bool = False,
        dist_timeout_s: float = 600.0,
    ) -> None:
        precision = str(precision)
        if precision not in PRECISIONS:
            raise ConfigError(f"trainer.precision={precision!r} is not one of {sorted(PRECISIONS)}")
        max_epochs = as_int("trainer.max_epochs", max_epochs, 1)
        log_every_steps = as_int("trainer.log_every_steps", log_every_steps, 1)
        max_steps = as_int("trainer.max_steps", max_steps, 1, optional=True)
        val_every_steps = as_int("trainer.val_every_steps", val_every_steps, 1, optional=True)
        checkpoint_every_steps = as_int("trainer.checkpoint_every_steps", checkpoint_every_steps, 1, optional=True)
        grad_clip = as_number("trainer.grad_clip", grad_clip, 0, strict=True, optional=True)
        compile, val_png = as_bool("trainer.compile", compile), as_bool("trainer.val_png", val_png)
        find_unused = as_bool("trainer.find_unused_parameters", find_unused_parameters)
        dist_timeout_s = as_number("trainer.dist_timeout_s", dist_timeout_s, 0, strict=True)

        export_submitit_env()  # a multi-task submitit job's ranks, before LOCAL_RANK picks this rank's GPU
        self.device = select_device(device, int(os.environ.get("LOCAL_RANK", "0")))
        if self.device.type == "cuda":
            torch.cuda.set_device(self.device)
        self.dist = D.init_distributed(self.device.type, dist_timeout_s)
        self.run_dir = Path(D.broadcast_object(str(run_dir), self.dist))  # rank 0's folder
        self.seed, self.grad_clip, self.progress, self.val_png = int(seed), grad_clip, progress, val_png
        self.val_every, self.log_every, self.ckpt_every = val_every_steps, log_every_steps, checkpoint_every_steps
        self.amp_dtype = PRECISIONS[precision]
        self.config_text, self.hparams, self.callbacks = config_text, hparams or {}, callbacks or []
        # the HParams table's columns, and which lead it (engine.board_hparams)
        self.hparams_shown = dict.fromkeys(self.hparams, True) if hparams_shown is None else hparams_shown

        # weights: rank 0's everywhere, then EMA copies from them; parts from other runs load in initialise()
        self.weights = Weights(model, loss, parts)
        self.weights.to(self.device)
        self.model, self.loss = model, loss
        self._broadcast_weights()
        self.initialised = False  # parts with init_from not loaded yet (resume() makes it unnecessary)
        # each part compiled on its own, so that model.generator(z) runs compiled too
        self.train_model = map_parts(model, lambda name, part: torch.compile(part)) if compile else model

        self.data, self.evaluator = data, evaluator
        self.data.setup(self.device, self.dist.rank, self.dist.world_size, self.seed)
        self.loss.setup(self.data)
        self.evaluator.setup(self.data)
        self.players = build_players(loss, self.weights.parts, players)
        self.draws = draws_per_step(self.players)
        self.steps_per_epoch = self.data.batches_per_epoch // self.draws
        if self.steps_per_epoch < 1:
            raise ConfigError(f"an epoch of {self.data.batches_per_epoch} batches is less than one step of "
                              f"{self.draws} fresh batches: lower the repeat or the batch size")
        self.total_steps = min(max_steps or math.inf, max_epochs * self.steps_per_epoch)
        attach_optimizers(self.players, optimizer, scheduler, self.total_steps, precision == "fp16", self.device.type)
        check_sparse_gradients(model, loss, self.players)
        self.in_place = loss.updates_in_place(model)
        if self.in_place:
            check_in_place(self.players, precision, compile, grad_clip, self.dist.world_size)
        # several processes: each player's loss call through its own DDP, which syncs exactly that player's gradients
        self.find_unused = find_unused or getattr(loss, "leaves_parameters_unused", False)
        self.player_losses: dict[str, nn.Module] = {}
        if self.dist.enabled:
            for p in self.players.values():
                parts = {name: self.weights.parts[name] for name in p.parts}
                self.player_losses[p.name] = D.wrap_player(loss, self.train_model, p.name, parts, p.params,
                                                           self.device, self.find_unused)
        self.gradients_checked: set[str] = set()  # players whose first step gave every parameter a gradient

        self.step = 0
        self.train_seconds = 0.0  # wall time spent training (not validating), carried across resume
        self.best: dict[str, Any] = {"value": None, "step": None}
        self.stop = StopRequest()
        self._nonfinite = torch.zeros((), dtype=torch.bool, device=self.device)

    def _broadcast_weights(self) -> None:
        if self.dist.enabled:
            D.broadcast_module(self.model)
            D.broadcast_module(self.loss)
        self.weights.reset_ema()

    def initialise(self) -> None:
        """Load the parts that have ``init_from`` (once, before the first step of a new run)."""
        if not self.initialised:
            self.weights.load_initial(self.device)
            self._broadcast_weights()
            self.initialised = True

    # ---------------------------------------------------------------- checkpoints
    def state_dict(self, rng_per_rank: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """Everything a resumed run needs; ``rng_per_rank`` (from :meth:`rng_states`, a collective) adds the
        random streams of every rank, so that each rank resumes exactly."""
        return {
            "step": self.step,
            **self.weights.state_dict(),
            "optimizers": {p.name: p.optimizer.state_dict() for p in self.players.values()},
            "schedulers": {p.name: p.scheduler.state_dict() for p in self.players.values() if p.scheduler is not None},
            "scalers": {p.name: p.scaler.state_dict() for p in self.players.values()},
            "rng": rng_state(),
            **({"rng_per_rank": rng_per_rank} if rng_per_rank else {}),
            "best": dict(self.best),
            "train_seconds": self.train_seconds,
            "seed": self.seed,
            "config": self.config_text,
            "code_version": code_version(),
        }

    def load_state_dict(self, state: dict[str, Any], source: str = "checkpoint") -> None:
        self.weights.load_state_dict(state, source)
        try:
            for key, attr in (("optimizers", "optimizer"), ("schedulers", "scheduler"), ("scalers", "scaler")):
                table = {p.name: getattr(p, attr) for p in self.players.values() if getattr(p, attr) is not None}
                if set(state[key]) != set(table):
                    raise KeyError(f"{key} for players {sorted(state[key])}, expected {sorted(table)}")
                for player, obj in table.items():
                    obj.load_state_dict(state[key][player])
        except (KeyError, RuntimeError, ValueError) as e:
            raise CheckpointError(f"{source} does not match this optimiser config ({one_line(e)})") from None
        self.step, self.best = int(state["step"]), dict(state["best"])
        self.train_seconds = float(state.get("train_seconds", 0.0))
        per_rank = state.get("rng_per_rank") or []
        if len(per_rank) == self.dist.world_size:
            set_rng_state(per_rank[self.dist.rank])
        elif self.dist.is_main:
            set_rng_state(state["rng"])
        else:  # a checkpoint of another number of processes: rank 0's streams, fresh ones for the others
            seed_everything(stream_seed(self.seed, self.dist.rank, self.step))

    def rng_states(self) -> list[dict[str, Any]] | None:
        """Every rank's random streams, on rank 0 (``None`` elsewhere, and with one process); all ranks call it."""
        if not self.dist.enabled:
            return None
        states: list[Any] = [None] * self.dist.world_size
        torch.distributed.all_gather_object(states, rng_state())
        return states if self.dist.is_main else None

    def resume(self, path: str | Path) -> None:
        """Continue from a checkpoint written by this trainer (``last.pt`` of a run).

        The run must continue with the config it was started with (only the result-neutral keys of
        ``engine.run_folders.RESULT_NEUTRAL`` may differ): anything else would mix two experiments.
        """
        state = load_checkpoint(path, map_location=self.device)
        changed = config_changes(state.get("config", ""), self.config_text, defaults=SETTING_DEFAULTS)
        if changed:
            raise ConfigError(
                f"resume: the config differs from the one {path} was trained with ({'; '.join(changed[:3])}); "
                "resume with the original values, or start a new run without resume"
            )
        self.load_state_dict(state, source=str(path))
        self.initialised = True  # the checkpoint holds the weights: init_from sources are not needed again
        log.info("resumed from %s at step %d / %d", path, self.step, self.total_steps)

    def save(self, name: str) -> None:
        """Write a checkpoint (rank 0), unless a loss went NaN/inf since the last one (all ranks call this)."""
        self._check_finite()
        per_rank = self.rng_states()
        if self.dist.is_main:
            save_checkpoint(self.state_dict(per_rank), self.run_dir / name)

    def _check_finite(self) -> None:
        bad = self._nonfinite.clone()
        if self.dist.enabled:  # every rank stops together
            torch.distributed.all_reduce(bad, op=torch.distributed.ReduceOp.MAX)
        if bool(bad):
            last = self.run_dir / "last.pt"
            kept = f"the last good checkpoint is {last}" if last.exists() else "no checkpoint was written yet"
            raise NonFiniteLossError(
                f"a loss became NaN/inf before step {self.step}; training stopped and {kept}. "
                "Lower optim.lr, set trainer.grad_clip, or check the data"
            )

    # ---------------------------------------------------------------- one step
    def progress_at(self, draw: int = 0, player: str | None = None, repeat: int = 0, repeats: int = 1,
                    lr: float = 0.0) -> Progress:
        """Where training is at this step, for batch ``draw`` of the step (and a player's ``repeat`` and learning rate)."""
        epoch, k = divmod(self.step, self.steps_per_epoch)
        return Progress(self.step, epoch, k * self.draws + draw, self.total_steps, self.steps_per_epoch,
                        player, repeat, repeats, lr)

    def train_step(self) -> dict[str, torch.Tensor]:
        logs: dict[str, torch.Tensor] = {}
        batches: dict[int, Batch] = {}
        autocast = torch.autocast(self.device.type, dtype=self.amp_dtype) if self.amp_dtype else nullcontext()
        for player in self.players.values():
            opt, scaler = player.optimizer, player.scaler
            for r in range(player.repeat):
                draw = r if player.fresh_batches else 0  # fresh batches: one per repeat; else the step's first
                if draw not in batches:
                    batches[draw] = self.data.train_batch(self.progress_at(draw))
                progress = self.progress_at(draw, player.name, r, player.repeat, opt.param_groups[0]["lr"])
                opt.zero_grad(set_to_none=True)
                with autocast:
                    if self.dist.enabled:  # the same call, through DDP (gradients averaged during backward)
                        out = self.player_losses[player.name](batches[draw], progress)
                    else:
                        out = self.loss(self.train_model, batches[draw], player.name, progress)
                value = out["loss"]  # the scalar minimised (self.loss is the module)
                if not self.in_place:  # else the loss has applied this step's update itself (a per-pair kernel)
                    scaler.scale(value).backward()
                    if self.dist.enabled and player.name not in self.gradients_checked:
                        self._check_gradients(player)
                    if self.grad_clip is not None:
                        scaler.unscale_(opt)
                        torch.nn.utils.clip_grad_norm_(player.params, self.grad_clip)
                scaler.step(opt)  # in place: no gradients, so no change (the schedule sees a step taken)
                scaler.update()
                if player.scheduler is not None:
                    player.scheduler.step()
                self.weights.update_ema(player.parts)
                self._nonfinite |= ~torch.isfinite(value.detach())
            prefix = "" if len(self.players) == 1 else f"{player.name}/"
            logs.update({prefix + k: v.detach().float() for k, v in out.items()})
        return logs

    def _check_gradients(self, player: Any) -> None:
        """Once per player: DDP without ``find_unused_parameters`` waits for a gradient of every parameter it
        syncs; a step that leaves some without one would average only part of them, so stop with one line."""
        names = {id(p): n for n, p in self.model.named_parameters()}
        names.update({id(p): f"loss.{n}" for n, p in self.loss.named_parameters()})
        missing = D.without_gradient(player.params, names)
        if missing and not self.find_unused:
            raise ConfigError(f"player {player.name!r}'s step gave no gradient to {len(missing)} of its parameters "
                              f"({', '.join(missing[:3])}), which DDP must know in advance: set "
                              "trainer.find_unused_parameters=true (slower), or freeze them (trainer.parts.<part>.freeze)")
        self.gradients_checked.add(player.name)

    # ---------------------------------------------------------------- the loop
    def fit(self) -> dict[str, Any]:
        """Train to ``total_steps`` (or until SIGINT/SIGTERM), then evaluate ``best.pt`` on the test split."""
        metrics_file = self.run_dir / "metrics.json"
        if self.step >= self.total_steps and metrics_file.is_file():
            log.info("%s already finished (step %d); its metrics are in %s", self.run_dir, self.step, metrics_file)
            return json.loads(metrics_file.read_text())
        if self.step == 0:
            self.initialise()
        logger = RunLogger(self.run_dir, resume_step=self.step or None, enabled=self.dist.is_main)
        if self.step == 0:  # a resumed run has its config logged and its random streams restored
            logger.text("config", self.config_text)
            seed_everything(stream_seed(self.seed, self.dist.rank))
        restore = self.stop.catch()
        self.model.train()
        bar = tqdm(total=self.total_steps, initial=self.step, disable=not (self.progress and self.dist.is_main),
                   dynamic_ncols=True, mininterval=1.0 if sys.stderr.isatty() else 30.0, desc=self.run_dir.name)
        try:
            return self._loop(logger, bar)
        except RuntimeError as e:  # torch.distributed's errors are RuntimeErrors
            failure = D.collective_failure(e, self.dist, self.step)
            if failure is None:
                raise
            raise failure from None
        finally:
            bar.close()
            restore()
            logger.close()

    def _loop(self, logger: RunLogger, bar: tqdm) -> dict[str, Any]:
        sums: dict[str, torch.Tensor] = {}
        n_sum, t_last, step_last = 0, time.perf_counter(), self.step
        unit = f"throughput/{self.data.unit}_per_s"
        while self.step < self.total_steps:
            epoch = self.step // self.steps_per_epoch
            out = self.train_step()
            for k, v in out.items():
                sums[k] = sums[k] + v if k in sums else v
            n_sum += 1
            self.step += 1
            bar.update(1)
            done = self.step == self.total_steps
            if self.step % self.log_every == 0 or done:
                elapsed = time.perf_counter() - t_last
                values = D.all_mean({f"train/{k}": float(v) / n_sum for k, v in sums.items()}, self.dist, self.device)
                units = (self.step - step_last) * self.draws * self.data.units_per_batch
                values[unit] = units / max(elapsed, 1e-9)
                self.train_seconds += elapsed
                values["time/train_s"] = self.train_seconds  # training time so far, validation left out
                for player in self.players.values():
                    values[f"lr/{player.name}"] = player.optimizer.param_groups[0]["lr"]
                self._check_finite()
                logger.scalars(self.step, values, epoch=epoch)
                bar.set_postfix({k[6:]: f"{v:.4g}" for k, v in values.items() if k.startswith("train/")}, refresh=False)
                sums, n_sum, t_last, step_last = {}, 0, time.perf_counter(), self.step
            val_due = self.step % self.steps_per_epoch == 0 if self.val_every is None else self.step % self.val_every == 0
            if val_due or done:
                t_val = time.perf_counter()
                self._validate(logger)
                self.save("last.pt")
                t_last += time.perf_counter() - t_val  # throughput counts training time only
            elif self.ckpt_every and self.step % self.ckpt_every == 0:
                self.save("last.pt")
            for callback in self.callbacks:
                callback(self)
            if self._stop_requested():
                self.save("last.pt")
                log.warning("stopped by signal %d at step %d; last.pt saved in %s: continue with resume=auto",
                            self.stop.signum, self.step, self.run_dir)
                return {"status": "interrupted", "step": self.step, "signal": self.stop.signum}
        metrics = self.final_evaluation(logger)
        D.barrier(self.dist)
        return metrics

    def _validate(self, logger: RunLogger) -> None:
        self._check_finite()  # on every rank, before rank 0 may write best.pt
        per_rank = self.rng_states()  # a collective: every rank, before rank 0 alone validates
        if self.dist.is_main:
            model = self.weights.eval_model()
            metrics = self.evaluator.evaluate(model, self.data.eval_batches("val"), loss=self.loss)
            logger.scalars(self.step, {f"val/{k}": v for k, v in metrics.items()})
            png_dir = self.run_dir / "figures" / f"step{self.step:07d}" if self.val_png else None  # samples over training
            logger.media(self.step, self.evaluator.media(model, self.data, "val", loss=self.loss), prefix="val",
                         png_dir=png_dir)
            monitor = self.evaluator.monitor
            if monitor not in metrics:
                name = type(self.evaluator).__name__
                raise ConfigError(f"{name}.monitor={monitor!r} is not among its metrics {sorted(metrics)}")
            value, best = metrics[monitor], self.best["value"]
            sign = 1 if self.evaluator.mode == "max" else -1
            if best is None or self.evaluator.mode == "last" or sign * (value - best) > 0:
                self.best = {"value": value, "step": self.step}
                save_checkpoint(self.state_dict(per_rank), self.run_dir / "best.pt")
            log.info("step %d: val %s %.4f (best %.4f at step %d)", self.step, monitor,
                     value, self.best["value"], self.best["step"])
        self.best = D.broadcast_object(self.best, self.dist)

    def final_evaluation(self, logger: RunLogger | None = None, split: str = "test") -> dict[str, Any]:
        """Restore ``best.pt`` (else keep the current weights), evaluate it on ``split``; write ``metrics.json``."""
        if not self.dist.is_main:
            return {}
        best = self.run_dir / "best.pt"
        ckpt_step = self.step
        if best.exists():
            state = load_checkpoint(best, map_location=self.device)
            self.weights.load_state_dict(state, source=str(best))  # the same restore as eval.py's
            ckpt_step = int(state["step"])
        metrics = evaluate_to_file(self.weights.eval_model(), self.loss, self.evaluator, self.data, self.run_dir,
                                   split, checkpoint=best.name if best.exists() else "final weights",
                                   checkpoint_step=ckpt_step, logger=logger,
                                   extra={f"val/best_{self.evaluator.monitor}": self.best["value"], "steps": self.step,
                                          "train_seconds": round(self.train_seconds, 3)})
        top = headline(metrics)
        if logger is not None:
            logger.scalars(self.step, {k: v for k, v in metrics.items() if isinstance(v, float)}, final=True)
            logger.hparams(self.hparams, self.hparams_shown, list(top))
        log.info("final %s metrics (%s): %s", split, metrics["checkpoint"], ", ".join(f"{k}={v:.4f}" for k, v in top.items()))
        return metrics

    def _stop_requested(self) -> bool:
        if not self.dist.enabled:
            return self.stop.signum is not None
        flag = torch.tensor([0 if self.stop.signum is None else self.stop.signum], device=self.device)
        torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
        self.stop.signum = int(flag) or None
        return self.stop.signum is not None
