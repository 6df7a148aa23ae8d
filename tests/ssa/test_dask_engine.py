"""Trajectories over Dask workers: id ranges tile the run, parts reassemble into the one-process result bit for
bit (in this process, and on a real local cluster of two worker processes), and bad input is one line."""

from __future__ import annotations

import pickle
import time

import pytest
import torch

from engine.errors import ConfigError, ProjectError
from ssa.dask_engine import (
    LOCAL_CLUSTER,
    DaskSimulator,
    assemble,
    default_parts,
    part_kwargs,
    simulate_in_parts,
    simulate_on_dask,
    simulate_part,
    split_ids,
    thread_budget,
)
from ssa.gillespie import Trajectories, simulate
from ssa.reaction_network import load_network

GRID = torch.linspace(0.0, 5.0, 51, dtype=torch.float64)


@pytest.fixture(scope="module")
def network():
    return load_network("gene_expression")


def same(a: Trajectories, b: Trajectories) -> bool:
    return (torch.equal(a.counts, b.counts) and torch.equal(a.events, b.events) and torch.equal(a.times, b.times)
            and (a.seed, a.first_id) == (b.seed, b.first_id) and a.network == b.network)


@pytest.mark.parametrize("n, parts", [(1, 1), (1, 5), (10, 3), (10, 10), (10, 11), (1000, 7), (1001, 8)])
def test_ranges_tile_the_ids_in_order(n, parts):
    spans = split_ids(n, parts)
    assert len(spans) == min(n, parts) and spans[0][0] == 0 and spans[-1][1] == n
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:]))
    sizes = [b - a for a, b in spans]
    assert min(sizes) >= 1 and max(sizes) - min(sizes) <= 1


def test_default_parts_one_per_worker_until_parts_are_large():
    assert default_parts(10_000, 2) == 2 and default_parts(3, 2) == 2
    assert default_parts(2 * 16384, 2) == 2 and default_parts(4 * 16384, 2) == 4 and default_parts(10**7, 2) == 8


@pytest.mark.parametrize("n, parts", [(300, 1), (300, 2), (300, 7), (5, 8)])
def test_parts_reassemble_into_one_simulate_call(network, n, parts):
    want = simulate(network, GRID, n, seed=11, first_id=40)
    got = simulate_in_parts(simulate, network, GRID, n, seed=11, first_id=40, parts=parts, threads=1)
    assert same(got, want)


def test_arguments_reach_every_part_and_initial_states_are_cut_by_rows(network):
    initial = torch.randint(0, 30, (57, 2))
    want = simulate(network, GRID, 57, seed=3, initial=initial, chunk_size=5)
    assert same(simulate_in_parts(simulate, network, GRID, 57, seed=3, parts=4, initial=initial, chunk_size=5), want)
    one = simulate(network, GRID, 57, seed=3, initial=[5, 0])
    assert same(simulate_in_parts(simulate, network, GRID, 57, seed=3, parts=4, initial=[5, 0]), one)
    with pytest.raises(ConfigError, match="initial has 56 rows for 57 trajectories"):
        part_kwargs({"initial": initial[:56]}, 57, 0, 10)


def test_parts_may_arrive_in_any_order_and_none_may_be_missing(network):
    spans = split_ids(90, 4)
    parts = [(i, simulate(network, GRID, b - a, seed=2, first_id=7 + a)) for i, (a, b) in enumerate(spans)]
    want = simulate(network, GRID, 90, seed=2, first_id=7)
    assert same(assemble(reversed(parts), spans, 2, 7), want)
    with pytest.raises(ProjectError, match="1 of 4 parts did not come back"):
        assemble(parts[:3], spans, 2, 7)
    shifted = [(i, Trajectories(p.network, p.times + 1, p.counts, p.events, 2, 0)) for i, p in parts]
    with pytest.raises(ProjectError, match="another time grid"):
        assemble([parts[0], shifted[1]], spans, 2, 7)


def test_a_task_pickles_and_keeps_its_thread_budget(network):
    task = pickle.loads(pickle.dumps((simulate_part, simulate, network, GRID)))
    assert task[0] is simulate_part and task[1] is simulate and task[2] == network
    before = torch.get_num_threads()
    with thread_budget(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


def test_an_unreachable_scheduler_is_one_line_quickly():
    start = time.perf_counter()
    with pytest.raises(ConfigError, match="could not reach the Dask scheduler at dask_scheduler=tcp://127.0.0.1:9 ") as e:
        DaskSimulator("tcp://127.0.0.1:9", timeout_s=0.5)
    assert "\n" not in str(e.value) and "dask scheduler" in str(e.value) and time.perf_counter() - start < 5
    with pytest.raises(ConfigError, match="could not reach the Dask scheduler at dask_scheduler=nonsense"):
        DaskSimulator("nonsense", timeout_s=0.5)
    with pytest.raises(ConfigError, match="dask_scheduler must be an address"):
        DaskSimulator(8786)
    with pytest.raises(ConfigError, match="dask_workers must be an integer >= 1"):
        DaskSimulator(workers=0)
    with pytest.raises(ConfigError, match="dask_workers=2 sizes a local cluster, but dask_scheduler=tcp://h:1 has its own"):
        DaskSimulator("tcp://h:1", workers=2)


@pytest.fixture(scope="module")
def cluster():
    from dask.distributed import LocalCluster

    cluster = LocalCluster(n_workers=2, **LOCAL_CLUSTER)
    yield cluster
    cluster.close()


@pytest.mark.slow
def test_two_worker_processes_give_the_one_process_result_bit_for_bit(network, cluster):
    grid = torch.linspace(0.0, 20.0, 201, dtype=torch.float64)
    want = simulate(network, grid, 3000, seed=9, first_id=123)
    with DaskSimulator(cluster.scheduler_address, timeout_s=10) as dask_sim:
        assert dask_sim.slots == 2
        for parts in (None, 5):
            got = dask_sim.simulate(simulate, network, grid, 3000, seed=9, first_id=123, parts=parts, progress=True)
            assert same(got, want)
        small = dask_sim.simulate(simulate, network, grid, 3, seed=9, first_id=123, parts=5)  # fewer than parts
        assert same(small, simulate(network, grid, 3, seed=9, first_id=123))
        with pytest.raises(ConfigError, match="initial counts .* must be non-negative"):  # raised on a worker
            dask_sim.simulate(simulate, network, grid, 10, initial=[1, -1])


@pytest.mark.slow
def test_a_local_cluster_is_started_and_closed_for_one_run(network):
    want = simulate(network, GRID, 500, seed=4)
    assert same(simulate_on_dask(simulate, network, GRID, 500, seed=4, workers=2, parts=3), want)
