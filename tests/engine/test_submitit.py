"""The Slurm launcher's code path, run for real through its local twin ``hydra/launcher=local``.

Hydra's submitit launcher pickles itself and each job's overrides; submitit's local executor starts one controller
process per job, which starts one process per task (``tasks_per_node``) and restarts them all when the first task
exits with the local requeue status (what a Slurm job does through ``scontrol requeue``). Checked here:

- a 2-job sweep finishes, each job in its own folder, and ``tools/summarize.py`` reads the sweep;
- pre-emption: SIGUSR2 to a job's tasks (what the controller, and Slurm, send before a time limit) stops the
  trainer at a step boundary with one ``last.pt``; submitit requeues the job, which continues from that step in
  the same folder of the same sweep and ends with the weights of an uninterrupted run (bit for bit with one task);
- ``hydra.launcher.tasks_per_node=2``: one job of 2 processes started from submitit's environment (DDP, gloo),
  equal to one process on the same global batch within float tolerance; its pre-emption reaches both tasks,
  saves ``last.pt`` once and continues;
- ``engine.cluster_env`` and the requeue rule in process (a faked job environment), and the one-line errors.

Two sweeps (one and two tasks per job) are each launched once per module and shared by the tests that read them.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from conftest import REPO, compose_cfg, losses, read_metrics

from engine.checkpoint import load_checkpoint
from engine.cluster_env import export_submitit_env, process_rank, submitit_task
from engine.run_folders import Resume, requeued_in
from engine.run_logger import read_jsonl
from train import train

pytestmark = [pytest.mark.slow, pytest.mark.distributed]

STEPS = 24
# no dropout or batch norm: 2 ranks on halves of each global batch equal one process up to float rounding
CONFIG = ["experiment=fmnist_cnn", "data.train_subset=1024", "data.val_subset=256", "data.test_subset=256",
          "data.batch_size=64", f"trainer.max_steps={STEPS}", "trainer.log_every_steps=1",
          f"trainer.val_every_steps={STEPS // 2}", "trainer.progress=false"]
PREEMPTED_SEED = 0  # the job of each sweep that is sent the pre-emption signal; seed=1 runs uninterrupted


@dataclass
class Sweep:
    folder: Path  # runs/multirun/fmnist_cnn/<date_time>
    jobs: dict[int, Path]  # seed -> job folder
    job_ids: dict[int, str]  # seed -> submitit job id (the local controller's pid)
    stderr: str


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (read from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # ended meanwhile
            continue
        if int(text.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def job_id(job: Path) -> str:
    """The submitit job id that Hydra's record of the job's first start holds."""
    from omegaconf import OmegaConf

    return str(OmegaConf.load(job / ".hydra" / "hydra.yaml").hydra.job.id)


def launch(runs_root: Path, tasks: int, timeout: int = 420) -> Sweep:
    """``train.py -m hydra/launcher=local seed=0,1`` with ``tasks`` tasks per job; once the job of seed 0 has logged
    two rows, SIGUSR2 to each of its tasks (the processes its controller started)."""
    args = [sys.executable, "train.py", "-m", "hydra/launcher=local", f"hydra.launcher.tasks_per_node={tasks}",
            *CONFIG, f"runs_root={runs_root}", "seed=0,1"]
    # its own session: a hang kills the controllers and their tasks too
    proc = subprocess.Popen(args, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        deadline, sent = time.time() + timeout, False
        while not sent and time.time() < deadline and proc.poll() is None:
            logs = list(runs_root.glob(f"multirun/fmnist_cnn/*/*seed={PREEMPTED_SEED}*/log.jsonl"))
            if logs and len(read_jsonl(logs[0])) >= 2:
                tasks_of_job = children(int(job_id(logs[0].parent)))
                assert len(tasks_of_job) == tasks, tasks_of_job
                for pid in tasks_of_job:
                    os.kill(pid, signal.SIGUSR2)
                sent = True
            time.sleep(0.02)
        assert sent, "the job did not start logging"
        _, err = proc.communicate(timeout=max(deadline - time.time(), 1))
    except (subprocess.TimeoutExpired, AssertionError):
        os.killpg(proc.pid, signal.SIGKILL)
        _, err = proc.communicate()
        raise AssertionError(f"the sweep did not finish: {err[-3000:]}") from None
    assert proc.returncode == 0, err[-3000:]
    (folder,) = (runs_root / "multirun" / "fmnist_cnn").iterdir()  # one sweep folder, requeue included
    jobs = {seed: next(folder.glob(f"*seed={seed}*")) for seed in (0, 1)}
    return Sweep(folder, jobs, {seed: job_id(job) for seed, job in jobs.items()}, err)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Seed 0 trained in this process, in one go."""
    run_dir = tmp_path_factory.mktemp("reference")
    train(compose_cfg(*CONFIG, f"seed={PREEMPTED_SEED}"), run_dir)
    return run_dir


@pytest.fixture(scope="module")
def one_task(tmp_path_factory: pytest.TempPathFactory) -> Sweep:
    return launch(tmp_path_factory.mktemp("one_task"), tasks=1)


@pytest.fixture(scope="module")
def two_tasks(tmp_path_factory: pytest.TempPathFactory) -> Sweep:
    return launch(tmp_path_factory.mktemp("two_tasks"), tasks=2)


def weights(run_dir: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(run_dir / "last.pt")["model"]


def task_log(sweep: Sweep, seed: int, task: int) -> list[str]:
    """The lines of submitit's own logger (``submitit INFO (...) - ...``, every level on stdout; the same records
    also pass through the job's Hydra logging) that task ``task`` of the job of ``seed`` wrote, over every start."""
    jid = sweep.job_ids[seed]
    text = (sweep.folder / ".submitit" / jid / f"{jid}_{task}_log.out").read_text()
    return [line for line in text.splitlines() if line.startswith("submitit ")]


def count(lines: list[str], needle: str) -> int:
    return sum(needle in line for line in lines)


def assert_preempted_and_continued(sweep: Sweep) -> int:
    """The pre-empted job stopped once with ``last.pt``, was requeued once by submitit and continued from that step
    in its own folder to the end; returns the step."""
    job, jid = sweep.jobs[PREEMPTED_SEED], sweep.job_ids[PREEMPTED_SEED]
    log = (job / "train.log").read_text()
    stops = [line for line in log.splitlines() if "stopped by signal" in line]
    assert len(stops) == 1 and f"signal {int(signal.SIGUSR2)} at step " in stops[0], log[-2000:]
    step = int(stops[0].split(" at step ")[1].split(";")[0])
    assert 2 <= step < STEPS
    resumed = [line for line in log.splitlines() if "resumed from" in line]
    assert len(resumed) == 1 and f"{job / 'last.pt'} at step {step} / {STEPS}" in resumed[0], log[-2000:]
    submitit_log = task_log(sweep, PREEMPTED_SEED, 0)
    # submitit's handler ran once: the launcher's checkpoint() (the same job, as a DelayedSubmission) and the requeue
    assert count(submitit_log, "Calling checkpoint method.") == 1, submitit_log
    assert count(submitit_log, f"Requeued job {jid} ") == 1, submitit_log
    assert count(submitit_log, f"Starting with JobEnvironment(job_id={jid},") == 2  # the same job, started twice
    # the requeued start kept its job id and recorded its config beside the first start's
    assert len(list((job / ".hydra").glob("resume_*/hydra.yaml"))) == 1
    assert losses(job)[-1][0] == STEPS and [s for s, _ in losses(job)] == list(range(1, STEPS + 1))  # each once
    metrics = read_metrics(job)
    assert metrics["steps"] == STEPS and metrics["checkpoint"] == "best.pt"
    return step


def test_a_two_job_sweep_runs_each_job_in_its_own_folder(one_task: Sweep):
    assert set(one_task.job_ids) == {0, 1} and one_task.job_ids[0] != one_task.job_ids[1]  # two submitit jobs
    subfolders = {p.name for p in one_task.folder.iterdir() if p.is_dir()}
    assert subfolders == {".submitit", *(job.name for job in one_task.jobs.values())}
    for seed, job in one_task.jobs.items():
        assert (job / "metrics.json").is_file() and (job / "log.jsonl").is_file() and (job / "last.pt").is_file()
        assert f"seed={seed}" in job.name and load_checkpoint(job / "last.pt")["seed"] == seed
        assert [s for s, _ in losses(job)] == list(range(1, STEPS + 1))
        assert losses(job)[-1][1] < losses(job)[0][1]  # it trained
    assert weights(one_task.jobs[0]).keys() == weights(one_task.jobs[1]).keys()
    assert not all(torch.equal(a, b) for a, b in zip(weights(one_task.jobs[0]).values(),
                                                     weights(one_task.jobs[1]).values()))

    out = subprocess.run([sys.executable, "tools/summarize.py", str(one_task.folder), "--metric", "test/acc"],
                         cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    accs = [read_metrics(job)["test/acc"] for job in one_task.jobs.values()]
    header, row = (one_task.folder / "summary.csv").read_text().splitlines()[:2]
    table = dict(zip(header.split(","), row.split(",")))
    assert int(table["n"]) == 2
    assert float(table["test/acc_mean"]) == pytest.approx(sum(accs) / 2, abs=1e-6)
    assert (one_task.folder / "index.html").is_file()


def test_b_a_preempted_job_is_requeued_and_continues_bit_exact(one_task: Sweep, reference: Path):
    assert_preempted_and_continued(one_task)
    job = one_task.jobs[PREEMPTED_SEED]
    assert losses(job) == losses(reference)  # exact, step by step, across the requeue
    assert losses(job, "val/acc") == losses(reference, "val/acc")
    w_job, w_ref = weights(job), weights(reference)
    assert w_job.keys() == w_ref.keys() and all(torch.equal(w_job[k], w_ref[k]) for k in w_ref)
    assert read_metrics(job)["test/acc"] == read_metrics(reference)["test/acc"]


def assert_close_run(a: Path, b: Path) -> None:
    la, lb = losses(a), losses(b)
    assert [s for s, _ in la] == [s for s, _ in lb] == list(range(1, STEPS + 1))
    assert [v for _, v in la] == pytest.approx([v for _, v in lb], rel=1e-4)
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys()
    for name in wb:
        torch.testing.assert_close(wa[name], wb[name], rtol=1e-4, atol=1e-5, msg=name)


def test_c_a_two_task_job_trains_with_two_ranks_like_one_process(two_tasks: Sweep, one_task: Sweep):
    job = two_tasks.jobs[1]
    assert len(load_checkpoint(job / "last.pt")["rng_per_rank"]) == 2  # every rank's streams: world size 2
    # only rank 0 writes: one job folder per job, one log, one config record (rank 1's went to its scratch folder)
    assert {p.name for p in two_tasks.folder.iterdir() if p.is_dir()} == {".submitit", *(j.name for j in
                                                                                       two_tasks.jobs.values())}
    assert "stopped by signal" not in (job / "train.log").read_text()
    assert_close_run(job, one_task.jobs[1])  # the same global batch in one process (the one-task sweep's job)
    assert count(task_log(two_tasks, 1, 1), "global_rank=1(2)") == 1  # submitit's second task of the job


def test_c_a_preempted_two_task_job_saves_once_and_continues(two_tasks: Sweep, reference: Path):
    assert_preempted_and_continued(two_tasks)
    job = two_tasks.jobs[PREEMPTED_SEED]
    assert len(load_checkpoint(job / "last.pt")["rng_per_rank"]) == 2
    rank1 = task_log(two_tasks, PREEMPTED_SEED, 1)
    assert count(rank1, "Caught signal SIGUSR2") == 1 and count(rank1, "Not checkpointing nor requeuing") == 1, rank1
    assert count(rank1, "Starting with JobEnvironment") == 2  # rank 1 was started again with rank 0
    assert_close_run(job, reference)


# ---------------------------------------------------------------- in process: a faked submitit environment
LOCAL_JOB = {"SUBMITIT_EXECUTOR": "local", "SUBMITIT_LOCAL_JOB_ID": "4242", "SUBMITIT_LOCAL_NTASKS": "2",
             "SUBMITIT_LOCAL_JOB_NUM_NODES": "1", "SUBMITIT_LOCAL_NODEID": "0"}
TORCH_KEYS = ("MASTER_ADDR", "MASTER_PORT", "RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE")


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """No job or torch variables; afterwards the environment exactly as before, including the variables that
    export_submitit_env sets itself (monkeypatch undoes only its own changes, and a leaked WORLD_SIZE=2 would make
    every later training in this process wait for a second rank)."""
    saved = dict(os.environ)
    for key in (*TORCH_KEYS, "SUBMITIT_EXECUTOR", "SLURM_RESTART_COUNT"):
        monkeypatch.delenv(key, raising=False)
    yield monkeypatch
    os.environ.clear()
    os.environ.update(saved)


@pytest.mark.parametrize("rank", [0, 1])
def test_export_gives_each_task_its_rank_and_one_master(clean_env: pytest.MonkeyPatch, rank: int):
    for key, value in {**LOCAL_JOB, "SUBMITIT_LOCAL_GLOBALID": str(rank), "SUBMITIT_LOCAL_LOCALID": str(rank)}.items():
        clean_env.setenv(key, value)
    cuda = os.environ.get("CUDA_VISIBLE_DEVICES")
    assert process_rank() == rank and submitit_task().job_id == "4242"
    export_submitit_env()
    port = random.Random("4242").randint(20000, 60000)  # submitit's port: drawn from the job id, the same on every task
    assert {k: os.environ[k] for k in TORCH_KEYS} == {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port),
                                                      "RANK": str(rank), "WORLD_SIZE": "2", "LOCAL_RANK": str(rank),
                                                      "LOCAL_WORLD_SIZE": "2"}
    assert os.environ.get("CUDA_VISIBLE_DEVICES") == cuda  # left as the job has it: the trainer takes cuda:<LOCAL_RANK>


@pytest.mark.parametrize("case", ["outside a job", "one task", "under torchrun"])
def test_export_does_nothing_elsewhere(clean_env: pytest.MonkeyPatch, case: str):
    if case != "outside a job":
        for key, value in {**LOCAL_JOB, "SUBMITIT_LOCAL_GLOBALID": "0", "SUBMITIT_LOCAL_LOCALID": "0"}.items():
            clean_env.setenv(key, value)
    if case == "one task":
        clean_env.setenv("SUBMITIT_LOCAL_NTASKS", "1")
    if case == "under torchrun":
        clean_env.setenv("WORLD_SIZE", "4")
    export_submitit_env()
    assert {k for k in TORCH_KEYS if k in os.environ} == ({"WORLD_SIZE"} if case == "under torchrun" else set())


def test_a_requeued_job_continues_only_in_its_own_folder(clean_env: pytest.MonkeyPatch, tmp_path: Path):
    run = tmp_path / "job"
    (run / ".hydra").mkdir(parents=True)
    (run / ".hydra" / "hydra.yaml").write_text("hydra:\n  job:\n    id: '4242'\n")
    assert not requeued_in(run)  # outside a submitit job
    for key, value in {**LOCAL_JOB, "SUBMITIT_LOCAL_GLOBALID": "0", "SUBMITIT_LOCAL_LOCALID": "0"}.items():
        clean_env.setenv(key, value)
    assert not requeued_in(run) and Resume.parse(None, run_dir=run).kind == "new"  # the first start: no last.pt yet
    (run / "last.pt").write_bytes(b"")
    assert requeued_in(run)
    assert Resume.parse(None, run_dir=run).kind == "auto" and Resume.parse(None, run_dir=run).checkpoint(run) == run / "last.pt"
    assert Resume.parse(None, requeue=False, run_dir=run).kind == "new"  # a sweep's own folder
    assert Resume.parse("null").kind == "new"  # no run_dir: the folder choice
    clean_env.setenv("SUBMITIT_LOCAL_JOB_ID", "777")  # another job: a folder of an old sweep is not continued
    assert not requeued_in(run) and Resume.parse(None, run_dir=run).kind == "new"


# ---------------------------------------------------------------- one line each
def test_bad_launcher_input_is_one_line(tmp_path: Path):
    """Each before anything runs or any folder is made, exit status 2; all started at once."""
    base = [*CONFIG, f"runs_root={tmp_path}"]
    no_submitit = ("import runpy, sys; sys.modules['submitit'] = None; sys.argv = sys.argv[1:]; "
                   "runpy.run_path('train.py', run_name='__main__')")
    cases = {
        "without -m": (["train.py", "hydra/launcher=local", *base], "hydra/launcher=local submits sweep jobs: add -m"),
        "two nodes": (["train.py", "-m", "hydra/launcher=local", "hydra.launcher.nodes=2", *base],
                      "hydra/launcher=local: hydra.launcher.nodes=2: the local executor runs every job on this machine"),
        "no submitit": (["-c", no_submitit, "train.py", "-m", "hydra/launcher=local", *base],
                        "hydra/launcher=local: submitit is not installed"),
    }
    if subprocess.run(["which", "srun"], capture_output=True).returncode != 0:
        cases["no slurm"] = (["train.py", "-m", "hydra/launcher=slurm", *base],
                             "hydra/launcher=slurm: no Slurm on this machine (srun not found); the same jobs run here "
                             "with hydra/launcher=local")
    procs = {name: subprocess.Popen([sys.executable, *args], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True) for name, (args, _) in cases.items()}
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 2, (name, err[-2000:])
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and cases[name][1] in lines[0], (name, err[-2000:])
    made = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert made == [], made  # no run or sweep folder with files in it

