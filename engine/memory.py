"""Peak memory of this process, and of one training step, for the tools' and benchmarks' reports."""

from __future__ import annotations

import resource
from collections.abc import Callable
from pathlib import Path

import torch


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


def step_peak_bytes(forward: Callable[[], torch.Tensor], clear: Callable[[], None]) -> tuple[int, int]:
    """Peak CPU bytes allocated above the baseline during one ``forward()`` + backward, and during the forward alone.

    The profiler's allocation events (each allocation and free, with its size, including temporaries
    freed inside an op), summed in time order; ``clear()`` (the gradients to ``None``) runs first, so the
    new gradients count. Tensor storage through PyTorch's allocator only; reads a private profiler
    structure (``experimental_event_tree``).
    """
    from torch._C._profiler import _EventType
    from torch.autograd.profiler import record_function
    from torch.profiler import ProfilerActivity, profile

    clear()
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        loss = forward()
        with record_function("backward"):
            loss.backward()
        del loss
    events, backward_start, stack = [], None, list(prof.profiler.kineto_results.experimental_event_tree())
    while stack:
        node = stack.pop()
        if node.tag == _EventType.Allocation and node.extra_fields.device.type == "cpu":
            events.append((node.start_time_ns, node.extra_fields.alloc_size))
        elif node.name == "backward":
            backward_start = node.start_time_ns
        stack.extend(node.children)
    assert backward_start is not None
    live = peak = forward_peak = 0
    for t, size in sorted(events):
        live += size
        peak = max(peak, live)
        if t < backward_start:
            forward_peak = peak
    return peak, forward_peak
