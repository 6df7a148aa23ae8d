"""Peak memory of this process, for the tools' and benchmarks' reports."""

from __future__ import annotations

import resource
from pathlib import Path


def peak_rss_mb() -> float:
    """Peak resident memory of this process: VmHWM (Linux), else ``ru_maxrss``.

    ``ru_maxrss`` survives fork + exec, so a tool started from a big process would report that one's peak.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
