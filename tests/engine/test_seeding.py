"""Seeds: every integer is a seed (0 too); derived stream seeds do not collide."""

from __future__ import annotations

import torch

from engine.seeding import seed_everything, stream_seed


def test_seeds():
    seed_everything(0)
    a = torch.rand(3)
    seed_everything(0)
    assert torch.equal(a, torch.rand(3))  # 0 is a seed like any other
    seed_everything(1)
    assert not torch.equal(a, torch.rand(3))
    seeds = {stream_seed(s, e, i) for s in range(3) for e in range(10) for i in range(100)}
    assert len(seeds) == 3000 and all(0 <= s < 2**63 for s in seeds)
    assert stream_seed(0, 1) != stream_seed(1, 0)
