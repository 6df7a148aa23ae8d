"""SIGINT / SIGTERM / SIGUSR2 as a request to stop after the current step (and save ``last.pt``)."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from typing import Any


class StopRequest:
    """Catches the stop signals while active; ``signum`` is the first one received (``None``: none).

    SIGUSR2 is Slurm's pre-emption warning under submitit. A second SIGINT aborts at once.
    """

    def __init__(self) -> None:
        self.signum: int | None = None

    def catch(self) -> Callable[[], None]:
        """Install the handlers; returns the function that restores the previous ones."""
        if threading.current_thread() is not threading.main_thread():
            return lambda: None
        catch = [signal.SIGINT, signal.SIGTERM] + ([signal.SIGUSR2] if hasattr(signal, "SIGUSR2") else [])
        previous = {s: signal.getsignal(s) for s in catch}

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
