"""The one training loop (DESIGN.md, "The one loop").

Every experiment runs through ``Trainer.fit``: each step takes the global batch at that step,
and for each player of the objective in order (``repeat`` times each) computes its loss,
back-propagates, averages gradients over processes, clips, and steps that player's optimiser and
schedule. Validation picks ``best.pt``; the final evaluation of ``best.pt`` on the test split
goes to ``metrics.json`` and TensorBoard's hparams plugin.

The data position is the global step alone (``epoch, i = divmod(step, steps_per_epoch)``) and
every random stream is in the checkpoint, so an interrupted run resumes bit for bit.
"""

from __future__ import annotations

import json
import logging
import math
import os
import signal
import sys
import threading
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
from engine.errors import CheckpointError, ConfigError, NonFiniteLossError, one_line
from engine.evaluators import evaluate_to_file
from engine.run_logger import RunLogger
from engine.seeding import seed_everything, stream_seed
from losses.objective import Objective

log = logging.getLogger(__name__)

PRECISIONS = {"32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def _check_number(key: str, value: Any, kind: type, minimum: float, optional: bool = False,
                  strict: bool = False) -> None:
    """One clear line for a trainer setting of the wrong type or range."""
    if value is None and optional:
        return
    ok_type = isinstance(value, (int, float) if kind is float else int) and not isinstance(value, bool)
    if not ok_type or value < minimum or (strict and value == minimum):
        bound = f"> {minimum}" if strict else f">= {minimum}"
        what = "a number" if kind is float else "an integer"
        raise ConfigError(f"trainer.{key} must be {what} {bound}{' or null' if optional else ''}, got {value!r}")


class Trainer:
    """Trains ``model`` on ``objective`` over ``data``; the keyword settings are ``configs/trainer``'s.

    ``optimizer`` and ``scheduler`` are partials, called once per player as
    ``optimizer(params, **players[p].optim)`` and ``scheduler(opt, total_steps=N)``.
    ``callbacks`` are called with the trainer after every step.
    """

    def __init__(
        self,
        model: nn.Module,
        objective: Objective,
        data: Any,
        evaluator: Any,
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
        players: dict[str, dict[str, Any]] | None = None,
        config_text: str = "",
        hparams: dict[str, Any] | None = None,
        callbacks: list[Callable[[Trainer], None]] | None = None,
    ) -> None:
        precision = str(precision)
        if precision not in PRECISIONS:
            raise ConfigError(f"trainer.precision={precision!r} is not one of {sorted(PRECISIONS)}")
        _check_number("max_epochs", max_epochs, int, minimum=1)
        _check_number("log_every_steps", log_every_steps, int, minimum=1)
        for key, value in (("max_steps", max_steps), ("val_every_steps", val_every_steps),
                           ("checkpoint_every_steps", checkpoint_every_steps)):
            _check_number(key, value, int, minimum=1, optional=True)
        _check_number("grad_clip", grad_clip, float, minimum=0, optional=True, strict=True)
        players = dict(players or {})
        unknown = set(players) - set(objective.players)
        if unknown:
            raise ConfigError(f"trainer.players names {sorted(unknown)}, but the loss's players are {list(objective.players)}")

        self.device = D.select_device(device, int(os.environ.get("LOCAL_RANK", "0")))
        if self.device.type == "cuda":
            torch.cuda.set_device(self.device)
        self.dist = D.init_distributed(self.device.type)
        self.run_dir = Path(D.broadcast_object(str(run_dir), self.dist))  # rank 0's folder
        self.seed, self.grad_clip, self.progress = int(seed), grad_clip, progress
        self.val_every, self.log_every, self.ckpt_every = val_every_steps, log_every_steps, checkpoint_every_steps
        self.amp_dtype = PRECISIONS[precision]
        self.config_text, self.hparams, self.callbacks = config_text, hparams or {}, callbacks or []

        self.model = model.to(self.device)
        self.objective = objective.to(self.device)
        if self.dist.enabled:
            D.broadcast_module(self.model)
            D.broadcast_module(self.objective)
        self.train_model = torch.compile(self.model) if compile else self.model
        self.data, self.evaluator = data, evaluator
        self.data.setup(self.device, self.dist.rank, self.dist.world_size, self.seed)
        self.steps_per_epoch = self.data.steps_per_epoch
        self.total_steps = min(max_steps or math.inf, max_epochs * self.steps_per_epoch)

        self.repeat: dict[str, int] = {}
        self.params: dict[str, list[nn.Parameter]] = {}
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        self.schedulers: dict[str, Any] = {}
        self.scalers: dict[str, torch.amp.GradScaler] = {}
        for player in objective.players:
            spec = dict(players.get(player) or {})
            self.repeat[player] = int(spec.pop("repeat", 1))
            overrides = dict(spec.pop("optim", None) or {})
            if spec or self.repeat[player] < 1:
                raise ConfigError(f"trainer.players.{player} takes repeat (>= 1) and optim, got {players[player]}")
            params = list({id(p): p for p in objective.player_parameters(self.model, player) if p.requires_grad}.values())
            if not params:
                raise ConfigError(f"player {player!r} of the loss has no trainable parameters")
            self.params[player] = params
            try:
                self.optimizers[player] = optimizer(params, **overrides)
                if scheduler is not None:
                    steps = self.total_steps * self.repeat[player]
                    self.schedulers[player] = scheduler(self.optimizers[player], total_steps=steps)
            except (ValueError, TypeError) as e:
                raise ConfigError(f"optim/scheduler for player {player!r}: {e}") from None
            self.scalers[player] = torch.amp.GradScaler(self.device.type, enabled=precision == "fp16")

        self.step = 0
        self.best: dict[str, Any] = {"value": None, "step": None}
        self._stop_signal: int | None = None
        self._nonfinite = torch.zeros((), dtype=torch.bool, device=self.device)

    # ---------------------------------------------------------------- checkpoints
    def state_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "model": self.model.state_dict(),
            "objective": self.objective.state_dict(),
            "optimizers": {p: o.state_dict() for p, o in self.optimizers.items()},
            "schedulers": {p: s.state_dict() for p, s in self.schedulers.items()},
            "scalers": {p: s.state_dict() for p, s in self.scalers.items()},
            "rng": rng_state(),
            "best": dict(self.best),
            "seed": self.seed,
            "config": self.config_text,
            "code_version": code_version(),
        }

    def load_state_dict(self, state: dict[str, Any], source: str = "checkpoint") -> None:
        try:
            self.model.load_state_dict(state["model"])
            self.objective.load_state_dict(state["objective"])
            for name, table in (("optimizers", self.optimizers), ("schedulers", self.schedulers), ("scalers", self.scalers)):
                if set(state[name]) != set(table):
                    raise KeyError(f"{name} for players {sorted(state[name])}, expected {sorted(table)}")
                for player, obj in table.items():
                    obj.load_state_dict(state[name][player])
        except (KeyError, RuntimeError, ValueError) as e:
            raise CheckpointError(f"{source} does not match this model/loss/optimiser config ({one_line(e)})") from None
        self.step, self.best = int(state["step"]), dict(state["best"])
        if self.dist.is_main:
            set_rng_state(state["rng"])
        else:
            seed_everything(stream_seed(self.seed, self.dist.rank, self.step))

    def resume(self, path: str | Path) -> None:
        """Continue from a checkpoint written by this trainer (``last.pt`` of a run).

        The run must continue with the config it was started with (only the keys in
        ``RESUME_MAY_CHANGE`` may differ): anything else would silently mix two experiments.
        """
        state = load_checkpoint(path, map_location=self.device)
        changed = config_changes(state.get("config", ""), self.config_text)
        if changed:
            raise ConfigError(
                f"resume: the config differs from the one {path} was trained with ({'; '.join(changed[:3])}); "
                "resume with the original values, or start a new run without resume"
            )
        self.load_state_dict(state, source=str(path))
        log.info("resumed from %s at step %d / %d", path, self.step, self.total_steps)

    def save(self, name: str) -> None:
        """Write a checkpoint (rank 0), unless a loss went NaN/inf since the last one (all ranks call this)."""
        self._check_finite()
        if self.dist.is_main:
            save_checkpoint(self.state_dict(), self.run_dir / name)

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
    def train_step(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        logs: dict[str, torch.Tensor] = {}
        autocast = torch.autocast(self.device.type, dtype=self.amp_dtype) if self.amp_dtype else nullcontext()
        for player in self.objective.players:
            opt, scaler, params = self.optimizers[player], self.scalers[player], self.params[player]
            for _ in range(self.repeat[player]):
                opt.zero_grad(set_to_none=True)
                with autocast:
                    out = self.objective(self.train_model, batch, player)
                loss = out["loss"]
                scaler.scale(loss).backward()
                if self.dist.enabled:
                    D.average_gradients(params, self.dist.world_size)
                if self.grad_clip is not None:
                    scaler.unscale_(opt)
                    torch.nn.utils.clip_grad_norm_(params, self.grad_clip)
                scaler.step(opt)
                scaler.update()
                if player in self.schedulers:
                    self.schedulers[player].step()
                self._nonfinite |= ~torch.isfinite(loss.detach())
            prefix = "" if len(self.objective.players) == 1 else f"{player}/"
            logs.update({prefix + k: v.detach().float() for k, v in out.items()})
        return logs

    # ---------------------------------------------------------------- the loop
    def fit(self) -> dict[str, Any]:
        """Train to ``total_steps`` (or until SIGINT/SIGTERM), then evaluate ``best.pt`` on the test split."""
        metrics_file = self.run_dir / "metrics.json"
        if self.step >= self.total_steps and metrics_file.is_file():
            log.info("%s already finished (step %d); its metrics are in %s", self.run_dir, self.step, metrics_file)
            return json.loads(metrics_file.read_text())
        logger = RunLogger(self.run_dir, resume_step=self.step or None, enabled=self.dist.is_main)
        if self.step == 0:  # a resumed run has its config logged and its random streams restored
            logger.text("config", self.config_text)
            seed_everything(stream_seed(self.seed, self.dist.rank))
        restore = self._catch_signals()
        self.model.train()
        bar = tqdm(total=self.total_steps, initial=self.step, disable=not (self.progress and self.dist.is_main),
                   dynamic_ncols=True, mininterval=1.0 if sys.stderr.isatty() else 30.0, desc=self.run_dir.name)
        try:
            return self._loop(logger, bar)
        finally:
            bar.close()
            restore()
            logger.close()

    def _loop(self, logger: RunLogger, bar: tqdm) -> dict[str, Any]:
        sums: dict[str, torch.Tensor] = {}
        n_sum, t_last, step_last = 0, time.perf_counter(), self.step
        while self.step < self.total_steps:
            epoch, i = divmod(self.step, self.steps_per_epoch)
            out = self.train_step(self.data.train_batch(epoch, i))
            for k, v in out.items():
                sums[k] = sums[k] + v if k in sums else v
            n_sum += 1
            self.step += 1
            bar.update(1)
            done = self.step == self.total_steps
            if self.step % self.log_every == 0 or done:
                elapsed = time.perf_counter() - t_last
                values = D.all_mean({f"train/{k}": float(v) / n_sum for k, v in sums.items()}, self.dist, self.device)
                values["throughput/samples_per_s"] = (self.step - step_last) * self.data.batch_size / max(elapsed, 1e-9)
                for player, opt in self.optimizers.items():
                    values[f"lr/{player}"] = opt.param_groups[0]["lr"]
                self._check_finite()
                logger.scalars(self.step, values, epoch=epoch)
                bar.set_postfix({k[6:]: f"{v:.4g}" for k, v in values.items() if k.startswith("train/")}, refresh=False)
                sums, n_sum, t_last, step_last = {}, 0, time.perf_counter(), self.step
            val_due = self.step % self.steps_per_epoch == 0 if self.val_every is None else self.step % self.val_every == 0
            if val_due or done:
                self._validate(logger)
                self.save("last.pt")
            elif self.ckpt_every and self.step % self.ckpt_every == 0:
                self.save("last.pt")
            for callback in self.callbacks:
                callback(self)
            if self._stop_requested():
                self.save("last.pt")
                log.warning("stopped by signal %d at step %d; last.pt saved in %s: continue with resume=auto",
                            self._stop_signal, self.step, self.run_dir)
                return {"status": "interrupted", "step": self.step, "signal": self._stop_signal}
        metrics = self.final_evaluation(logger)
        D.barrier(self.dist)
        return metrics

    def _validate(self, logger: RunLogger) -> None:
        self._check_finite()  # on every rank, before rank 0 may write best.pt
        if self.dist.is_main:
            metrics = self.evaluator.evaluate(self.model, self.data.eval_batches("val"), objective=self.objective)
            logger.scalars(self.step, {f"val/{k}": v for k, v in metrics.items()})
            if hasattr(self.evaluator, "images"):
                batch = next(iter(self.data.eval_batches("val")))
                logger.images(self.step, {f"val/{k}": v for k, v in self.evaluator.images(self.model, batch).items()})
            value, best = metrics[self.evaluator.monitor], self.best["value"]
            sign = 1 if self.evaluator.mode == "max" else -1
            if best is None or sign * (value - best) > 0:
                self.best = {"value": value, "step": self.step}
                save_checkpoint(self.state_dict(), self.run_dir / "best.pt")
            log.info("step %d: val %s %.4f (best %.4f at step %d)", self.step, self.evaluator.monitor,
                     value, self.best["value"], self.best["step"])
        self.best = D.broadcast_object(self.best, self.dist)

    def final_evaluation(self, logger: RunLogger | None = None, split: str = "test") -> dict[str, Any]:
        """Evaluate ``best.pt`` (else the current weights) on ``split``; write ``metrics.json``."""
        if not self.dist.is_main:
            return {}
        best = self.run_dir / "best.pt"
        ckpt_step = self.step
        if best.exists():
            state = load_checkpoint(best, map_location=self.device)
            self.model.load_state_dict(state["model"])
            ckpt_step = int(state["step"])
        metrics = evaluate_to_file(self.model, self.objective, self.evaluator, self.data, self.run_dir, split,
                                   checkpoint=best.name if best.exists() else "final weights", checkpoint_step=ckpt_step,
                                   extra={f"val/best_{self.evaluator.monitor}": self.best["value"], "steps": self.step})
        # headline metrics: "test/acc", not the per-class details "test/acc_class/3_Dress"
        headline = {k: v for k, v in metrics.items() if isinstance(v, float) and k.count("/") == 1}
        if logger is not None:
            logger.scalars(self.step, {k: v for k, v in metrics.items() if isinstance(v, float)})
            logger.hparams(self.hparams, {f"hparam/{k}": v for k, v in headline.items()})
        log.info("final %s metrics (%s): %s", split, metrics["checkpoint"],
                 ", ".join(f"{k}={v:.4f}" for k, v in headline.items()))
        return metrics

    # ---------------------------------------------------------------- signals
    def _catch_signals(self) -> Callable[[], None]:
        """SIGINT/SIGTERM (and SIGUSR2, Slurm's pre-emption warning under submitit) finish the current
        step, save ``last.pt`` and return; a second SIGINT aborts."""
        if threading.current_thread() is not threading.main_thread():
            return lambda: None
        catch = [signal.SIGINT, signal.SIGTERM] + ([signal.SIGUSR2] if hasattr(signal, "SIGUSR2") else [])
        previous = {s: signal.getsignal(s) for s in catch}

        def handler(signum: int, frame: Any) -> None:
            if self._stop_signal is not None and signum == signal.SIGINT:
                raise KeyboardInterrupt
            self._stop_signal = signum

        for s in previous:
            signal.signal(s, handler)

        def restore() -> None:
            for s, h in previous.items():
                signal.signal(s, h)

        return restore

    def _stop_requested(self) -> bool:
        if not self.dist.enabled:
            return self._stop_signal is not None
        flag = torch.tensor([0 if self._stop_signal is None else self._stop_signal], device=self.device)
        torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
        self._stop_signal = int(flag) or None
        return self._stop_signal is not None
