"""Simulated trajectories as data: disjoint ids per split, the known initial state, observed species."""

from __future__ import annotations

import pytest
import torch

from datasets.simulated_trajectory_data import SimulatedTrajectoryData
from datasets.trajectories import SimulatedTrajectories
from engine.errors import ConfigError


def test_splits_are_consecutive_trajectory_ids_of_one_seed():
    data = SimulatedTrajectoryData("gene_expression", num_train=5, num_val=3, num_test=2, t_end=2.0, num_points=5,
                                   data_seed=7, batch_size=5)
    data.setup("cpu", seed=0)
    whole = SimulatedTrajectories("gene_expression", 10, t_end=2.0, num_points=5, seed=7)
    got = torch.cat([data.splits[s]["x"] for s in ("train", "val", "test")])
    assert torch.equal(got, whole.x)
    assert data.true_parameters == {"r0": 20.0, "r1": 2.5, "r2": 1.0, "r3": 1.0}
    assert data.splits["train"]["x0"].tolist() == [[1.0, 1.0]] * 5  # the network's initial counts


def test_the_run_seed_is_the_data_seed_unless_one_is_given():
    a, b = (SimulatedTrajectoryData("birth_death", 3, 1, 1, t_end=2.0, num_points=5, batch_size=3) for _ in range(2))
    a.setup("cpu", seed=0)
    b.setup("cpu", seed=1)
    assert not torch.equal(a.splits["train"]["x"], b.splits["train"]["x"])


def test_unobserved_species_never_reach_the_loss():
    data = SimulatedTrajectoryData("gene_expression", 4, 2, 2, t_end=1.0, num_points=3, observe=["protein"],
                                   noise="poisson", noise_scale=1.0, batch_size=2)
    data.setup("cpu", seed=0)
    mask = data.splits["train"]["mask"]
    assert not mask[..., 0].any() and mask[:, 1:, 1].all() and not mask[:, 0].any()
    with pytest.raises(ConfigError, match="unknown species 'RNA'"):
        SimulatedTrajectoryData("gene_expression", observe=["RNA"])
    with pytest.raises(ConfigError, match="num_val"):
        SimulatedTrajectoryData("gene_expression", num_val=0)
