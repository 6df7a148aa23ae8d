"""Errors that reach the user as one line (`train.py` / `eval.py` print ``error: <message>``).

Each message says what is wrong and how to fix it; nothing is lost when one is raised (the last
good checkpoint stays on disk).
"""

import math


class ProjectError(Exception):
    """Base class: an error the user can fix, reported without a traceback."""


class ConfigError(ProjectError):
    """An unknown or invalid configuration value."""


class DataMissingError(ProjectError):
    """A dataset is not installed; the message names the command that installs it."""


class CheckpointError(ProjectError):
    """A checkpoint is missing, corrupted or incompatible with the config."""


class NonFiniteLossError(ProjectError):
    """A loss became NaN or infinite; training stopped before saving the bad state."""


class DistributedError(ProjectError):
    """Another process of a multi-process run stopped or stopped answering (a collective failed or timed out)."""


class SolverError(ProjectError):
    """A numerical solve diverged or failed (an ODE step size beyond its stability limit, say)."""


def as_int(name: str, value, low: int | None = 0, high: int | None = None, optional: bool = False,
           hint: str = "") -> int | None:
    """``value`` as an int in ``[low, high)`` (``3.0`` passes, ``True``, ``3.5`` and ``"3"`` do not; ``low=None``:
    no lower bound); ``None`` passes as ``None`` when ``optional``; ``hint`` is said in brackets."""
    if value is None and optional:
        return None
    ok = isinstance(value, int) and not isinstance(value, bool)
    if not ok and not isinstance(value, bool):
        try:
            ok = float(value) == int(value) and not isinstance(value, str)
        except (TypeError, ValueError, OverflowError):
            ok = False
    if not ok or (low is not None and int(value) < low) or (high is not None and int(value) >= high):
        where = (f" in [{low}, {high})" if low is not None and high is not None else f" >= {low}" if low is not None
                 else f" < {high}" if high is not None else "")
        raise ConfigError(f"{name} must be an integer{where}{' or null' if optional else ''}{_bracket(hint)}, got {value!r}")
    return int(value)


def as_number(name: str, value, low: float | None = None, strict: bool = False, optional: bool = False,
              hint: str = "") -> float | None:
    """``value`` as a float (``True`` and strings are not numbers), at least ``low`` (above it when ``strict``);
    ``None`` passes as ``None`` when ``optional``; ``hint`` is said in brackets."""
    if value is None and optional:
        return None
    try:
        if isinstance(value, (bool, str)):
            raise TypeError
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name}={value!r} is not a number{_bracket(hint)}") from None
    if math.isnan(number):
        raise ConfigError(f"{name} is NaN{_bracket(hint)}; give a number")
    if low is not None and (number < low or (strict and number == low)):
        bound = f"{'>' if strict else '>='} {low}{' or null' if optional else ''}"
        raise ConfigError(f"{name} must be a number {bound}{_bracket(hint)}, got {value!r}")
    return number


def _bracket(hint: str) -> str:
    return f" ({hint})" if hint else ""


def as_bool(name: str, value) -> bool:
    """``value`` as a bool: only ``true`` / ``false`` (the string ``"false"`` is not silently true)."""
    if not isinstance(value, bool):
        raise ConfigError(f"{name} must be true or false, got {value!r}")
    return value


def one_line(e: BaseException, limit: int = 300) -> str:
    """An exception as one line: its first non-empty lines joined (torch puts the reason on line 2)."""
    lines = [line.strip() for line in str(e).splitlines() if line.strip()]
    text = " ".join(lines[:2]) if lines else type(e).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."
