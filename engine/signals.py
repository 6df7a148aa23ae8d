"""SIGINT / SIGTERM and submitit's pre-emption signal as a request to stop after the current step (and save
``last.pt``); then, in a submitit job, the pre-emption signal handed back to submitit, which requeues the job."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from typing import Any


def preemption_signal() -> int | None:
    """The signal submitit sends a job before it is pre-empted or reaches its time limit: SIGUSR2, unless
    ``SUBMITIT_PREEMPT_SIGNAL`` names another (``USR1``, as submitit reads it); ``None`` where it does not exist."""
    name = os.environ.get("SUBMITIT_PREEMPT_SIGNAL", "USR2")
    sig = getattr(signal, "SIG" + name, None)
    return int(sig) if sig is not None else None


class StopRequest:
    """Catches the stop signals while active; ``signum`` is the first one received (``None``: none).

    The pre-emption signal (:func:`preemption_signal`) is Slurm's warning under submitit (and the local twin's,
    before its time limit). A second SIGINT aborts at once.
    """

    def __init__(self) -> None:
        self.signum: int | None = None

    def catch(self) -> Callable[[], None]:
        """Install the handlers; returns the function that restores the previous ones."""
        if threading.current_thread() is not threading.main_thread():
            return lambda: None
        catch = {int(signal.SIGINT), int(signal.SIGTERM)}
        if preemption_signal() is not None:
            catch.add(preemption_signal())
        previous = {s: signal.getsignal(s) for s in sorted(catch)}

        def handler(signum: int, frame: Any) -> None:
            if self.signum is not None and signum == signal.SIGINT:
                raise KeyboardInterrupt
            self.signum = signum

        for s in previous:
            signal.signal(s, handler)

        def restore() -> None:
            for s, h in previous.items():
                signal.signal(s, h)

        return restore


def hand_over_preemption(signum: int) -> None:
    """After the trainer stopped on ``signum`` and saved ``last.pt``: if it is submitit's pre-emption signal and a
    handler of it is installed (submitit's, restored when ``fit()`` returned), raise it again so that the handler
    runs: on the job's first task it checkpoints the job and requeues it (on Slurm by ``scontrol requeue``, on this
    machine by exiting with the local executor's requeue status, 144); it does not return there. Anything else
    returns, and the caller exits with ``128 + signum``."""
    if signum != preemption_signal() or not callable(signal.getsignal(signum)):
        return
    signal.raise_signal(signum)
