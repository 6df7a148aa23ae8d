"""Searched sweeps (Optuna through Hydra's sweeper): configs/hparams_search/, results/optuna_search.py's OptunaSearch
callback and study reader, tools/summarize.py's trials and best trial (docs/sweeps.md).

Fast: the pure parts (direction, search space, folder quoting, the study's resume bookkeeping, the best trial of a
hand-made search folder, the failed trial's worst value) and the checks before a study starts, composed in process.
Slow (processes): a 3-trial search on the smoke configuration, its summary against the job folders and the study,
its resume, and bad searches as one line.
"""

from __future__ import annotations

import html
import json
import math
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import optuna
import pytest
from conftest import REPO, run_script
from hydra import initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.utils import JobReturn, JobStatus
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf
from optuna.distributions import (
    CategoricalDistribution,
    IntLogUniformDistribution,
    IntUniformDistribution,
    LogUniformDistribution,
    UniformDistribution,
)
from optuna.trial import TrialState

from engine.errors import ConfigError
from results import optuna_search, sweeps
from results.page import results_page

optuna.logging.set_verbosity(optuna.logging.WARNING)
SEARCHES = sorted(p.stem for p in (REPO / "configs" / "hparams_search").glob("*.yaml"))


# ---------------------------------------------------------------- pure parts


def test_direction_follows_the_evaluators_mode() -> None:
    assert optuna_search.check_direction("maximize", "acc", "max", "E") == "maximize"
    assert optuna_search.check_direction(None, "ppl", "min", "E") == "minimize"  # taken from the mode when not given
    assert optuna_search.check_direction("maximize", "modes", "last", "E") == "maximize"  # `last`: the user's choice
    with pytest.raises(ConfigError, match=r"val/best_ppl is better lower .*set hydra.sweeper.direction=minimize"):
        optuna_search.check_direction("maximize", "ppl", "min", "evaluators.perplexity.PerplexityEvaluator")
    with pytest.raises(ConfigError, match="set hydra.sweeper.direction=maximize"):
        optuna_search.check_direction("minimize", "acc", "max", "E")
    with pytest.raises(ConfigError, match="has no better side"):
        optuna_search.check_direction(None, "fd", "last", "E")
    with pytest.raises(ConfigError, match="write maximize or minimize"):
        optuna_search.check_direction("max", "acc", "max", "E")


def test_the_evaluators_monitor_and_mode_from_its_config_or_class() -> None:
    def node(target: str, **settings: Any) -> DictConfig:
        return OmegaConf.create({"_target_": target, **settings})

    assert optuna_search.evaluator_mode(node("evaluators.perplexity.PerplexityEvaluator")) == (
        "ppl", "min", "evaluators.perplexity.PerplexityEvaluator")  # class attributes
    assert optuna_search.evaluator_mode(node("evaluators.frechet_distance.FrechetDistanceEvaluator"))[:2] == ("fd", "last")
    assert optuna_search.evaluator_mode(node("evaluators.mode_coverage.ModeCoverageEvaluator", mode="max"))[:2] == (
        "modes", "max")  # the config's own value first
    assert optuna_search.evaluator_mode(node("evaluators.no_such.Evaluator")) is None
    assert optuna_search.evaluator_mode(None) is None


def test_objective_is_the_first_best_validation_value() -> None:
    assert optuna_search.objective_key({"test/acc": 0.9, "val/best_acc": 0.8, "val/best_x": 1.0}) == "val/best_acc"
    assert optuna_search.objective_key({"test/acc": 0.9}) is None


def test_search_space_parsed_as_the_sweeper_parses_it() -> None:
    params = {"loss.alpha": "tag(log, interval(0.05, 2.0))", "optim": {"lr": "interval(0.01, 0.1)"}}
    assert optuna_search.flat_params(params) == {"loss.alpha": "tag(log, interval(0.05, 2.0))", "optim.lr": "interval(0.01, 0.1)"}
    space, fixed, given = optuna_search.search_space(params, ["hparams_search=x", "optim.lr=choice(0.1,0.2)", "seed=3",
                                                      "+trainer.grad_clip=int(interval(1, 5))"])
    assert isinstance(space["loss.alpha"], LogUniformDistribution) and space["loss.alpha"].low == 0.05
    assert space["optim.lr"] == CategoricalDistribution([0.1, 0.2])  # the command line replaces the config's range
    assert space["+trainer.grad_clip"] == IntUniformDistribution(1, 5)
    assert fixed == {"hparams_search": "x", "seed": "3"}
    assert given == {"loss.alpha": "hydra.sweeper.params", "optim.lr": "the command line",
                     "+trainer.grad_clip": "the command line"}


def test_representative_values_lie_in_their_distribution() -> None:
    cases = [UniformDistribution(0.2, 0.5), LogUniformDistribution(1e-3, 1e-1), IntUniformDistribution(3, 9),
             IntLogUniformDistribution(8, 256), CategoricalDistribution(["a", "b"])]
    values = [optuna_search.representative(d) for d in cases]
    assert values == [0.2, 1e-3, 3, 8, "a"]
    assert all(d._contains(d.to_internal_repr(v)) for d, v in zip(cases, values))
    assert isinstance(values[2], int) and isinstance(values[3], int)


def test_missing_key_names_the_part_and_what_is_there() -> None:
    cfg = OmegaConf.create({"optim": {"_target_": "x", "lr": 0.1, "betas": [0.9, 0.99]}, "seed": 0})
    assert optuna_search.missing_key(cfg, "optim.lr") is None and optuna_search.missing_key(cfg, "optim.betas.1") is None
    assert optuna_search.missing_key(cfg, "optim.lrr") == "optim.lrr is not a config key (optim has: betas, lr)"
    assert optuna_search.missing_key(cfg, "optimm.lr") == "optimm is not a config key (the top level has: optim, seed)"
    assert "not a mapping" in optuna_search.missing_key(cfg, "seed.x")


@pytest.mark.parametrize("path", ["runs/multirun/a/2026-01-01_00-00-00", "/tmp/a b,c=d/x'y", "r\\s/${x}/e", "a\\'b\\"])
def test_a_quoted_folder_comes_back_from_hydras_override_parser(path: str) -> None:
    (override,) = OverridesParser.create().parse_overrides([f"hydra.sweep.dir={optuna_search.quoted(path)}"])
    assert not override.is_sweep_override()
    assert OmegaConf.create({"dir": override.value()}).dir == path  # as the job's config reads it


def test_a_resumed_sampler_gets_a_new_stream() -> None:
    assert optuna_search.resumed_seed(0, 3) == optuna_search.resumed_seed(0, 3)
    assert len({optuna_search.resumed_seed(0, 3), optuna_search.resumed_seed(0, 4), optuna_search.resumed_seed(1, 3), 0, 3}) == 5


def test_resume_counts_trials_and_queues_an_interrupted_one_again(tmp_path: Path) -> None:
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    assert optuna_search.resume_study(storage, "s", "maximize", 5, "val/best_acc") == (0, 0)  # a new study
    study = optuna.load_study(study_name="s", storage=storage)
    space = {"x": UniformDistribution(0.0, 1.0)}
    for value in (0.5, 0.7, None, "running"):
        trial = study.ask(space)
        if value == "running":
            break
        if value is None:
            study.tell(trial, state=TrialState.FAIL)
        else:
            study.tell(trial, value)
    interrupted = trial.params["x"]

    assert optuna_search.resume_study(storage, "s", "maximize", 5, "val/best_acc") == (3, 4)  # a failed trial counts
    study = optuna.load_study(study_name="s", storage=storage)  # a fresh view: the old one caches the running trial
    trials = study.get_trials()
    assert trials[3].state == TrialState.FAIL and trials[3].user_attrs == {"interrupted": True}
    assert study.user_attrs == {"n_trials": 5, "objective": "val/best_acc"}
    again = study.ask(space)  # the next trial the sweeper asks for runs the interrupted values again
    assert again.number == 4 and again.params["x"] == interrupted
    study.tell(again, 0.6)
    assert optuna_search.resume_study(storage, "s", "maximize", 5, "val/best_acc") == (4, 5)  # the interrupted one: not
    with pytest.raises(ConfigError, match="is to maximize, this command says minimize"):
        optuna_search.resume_study(storage, "s", "minimize", 5, "val/best_acc")


def test_a_failed_trial_is_told_the_worst_value() -> None:
    callback = optuna_search.OptunaSearch()
    job = OmegaConf.create({"hydra": {"runtime": {"output_dir": "/x"}}})
    for direction, returned, told in [("maximize", math.nan, -math.inf), ("minimize", math.nan, math.inf),
                                      ("maximize", None, -math.inf), ("minimize", 0.25, 0.25)]:
        callback.direction = direction
        ret = JobReturn(status=JobStatus.COMPLETED, _return_value=returned)
        callback.on_job_end(job, ret)
        assert ret.return_value == told
    callback.direction = None  # not a search: nothing changes
    ret = JobReturn(status=JobStatus.COMPLETED, _return_value=math.nan)
    callback.on_job_end(job, ret)
    assert math.isnan(ret.return_value)


# ---------------------------------------------------------------- a hand-made search folder


def write_trial_job(sweep: Path, params: dict[str, Any], acc: float | None, failed: bool = False) -> Path:
    overrides = [f"{k}={v}" for k, v in params.items()] + ["hparams_search=fmnist_mixup", "resume=auto"]
    job = sweep / ",".join(sorted(o for o in overrides if not o.startswith("resume")))
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))
    (job / ".hydra" / "hydra.yaml").write_text(
        "hydra:\n  sweeper:\n    _target_: hydra_plugins.hydra_optuna_sweeper.optuna_sweeper.OptunaSweeper\n"
        "    direction: maximize\n    study_name: fmnist_mixup\n    params:\n      optim.lr: interval(0.01, 0.1)\n")
    if acc is not None:
        (job / "metrics.json").write_text(json.dumps({"test/acc": acc - 0.01, "val/best_acc": acc}))
    if failed:
        (job / "error.txt").write_text("a loss became NaN\n")
    return job


def make_search(tmp_path: Path, study_values: list[float] | None = None) -> tuple[Path, list[Path]]:
    """Four trials (0.80, 0.85, failed, 0.83) and their study; ``study_values``: what the study was told instead."""
    sweep = tmp_path / "search"
    accs = [0.80, 0.85, None, 0.83]
    lrs = [0.011, 0.052, 0.093, 0.034]
    jobs = [write_trial_job(sweep, {"optim.lr": lr}, acc, failed=acc is None) for lr, acc in zip(lrs, accs)]
    storage = f"sqlite:///{sweep / optuna_search.STUDY_FILE}"
    study = optuna.create_study(storage=storage, study_name="fmnist_mixup", direction="maximize")
    told = study_values or [a if a is not None else -math.inf for a in accs]
    for lr, value in zip(lrs, told):
        study.enqueue_trial({"optim.lr": lr})
        trial = study.ask({"optim.lr": UniformDistribution(0.01, 0.1)})
        study.tell(trial, value)
    study.set_user_attr("objective", "val/best_acc")
    study.set_user_attr("n_trials", 4)
    return sweep, jobs


def test_the_best_trial_of_a_search_folder(tmp_path: Path) -> None:
    sweep, jobs = make_search(tmp_path)
    search = sweeps.load_search(sweep, sweeps.load_jobs(sweep))
    assert search is not None and (search.study_name, search.direction, search.objective) == (
        "fmnist_mixup", "maximize", "val/best_acc")
    assert [(t.number, t.state, t.value, t.job.folder if t.job else None) for t in search.trials] == [
        (0, "COMPLETE", 0.80, jobs[0]), (1, "COMPLETE", 0.85, jobs[1]), (2, "failed", None, jobs[2]),
        (3, "COMPLETE", 0.83, jobs[3])]
    assert search.best is search.trials[1] and search.study_best is search.trials[1]
    assert sweeps.best_line(search) == (f"best trial: {jobs[1].name} val/best_acc=0.8500 (trial 1; the study's best "
                                        "trial agrees)")
    md = sweeps.search_markdown(search)
    assert "| 1 | COMPLETE | 0.8500 (best) | 0.052 |" in md and "| 2 | failed | – | 0.093 |" in md
    assert "3 of 4 trials finished" in md
    page = results_page("search", [], [], sweeps.load_jobs(sweep), [], "", search)
    assert f"<tr style='font-weight:bold'><td>1</td><td>COMPLETE</td><td>0.8500</td><td>0.052</td><td>{jobs[1].name}" in page
    assert page.count("font-weight:bold") == 1 and "<h2>Search: maximize val/best_acc (study fmnist_mixup)</h2>" in page


def test_a_study_that_disagrees_with_the_job_folders_is_said(tmp_path: Path) -> None:
    sweep, jobs = make_search(tmp_path, study_values=[0.80, 0.85, -math.inf, 0.90])  # trial 3 told more than it has
    search = sweeps.load_search(sweep, sweeps.load_jobs(sweep))
    assert search is not None and search.best is not None and search.best.number == 1  # by the job folders
    assert sweeps.best_line(search).endswith(f"(trial 1; the study's best trial is 3 ({jobs[3].name}))")


def test_without_a_study_file_the_job_folders_alone(tmp_path: Path) -> None:
    sweep, jobs = make_search(tmp_path)
    (sweep / optuna_search.STUDY_FILE).unlink()
    search = sweeps.load_search(sweep, sweeps.load_jobs(sweep))
    assert search is not None and search.study_name is None
    assert [(t.number, t.state, t.value, t.params) for t in search.trials] == [  # the job folders, by name
        (None, "finished", 0.80, {"optim.lr": "0.011"}), (None, "finished", 0.83, {"optim.lr": "0.034"}),
        (None, "finished", 0.85, {"optim.lr": "0.052"}), (None, "failed", None, {"optim.lr": "0.093"})]
    assert sweeps.best_line(search) == f"best trial: {jobs[1].name} val/best_acc=0.8500 (no optuna.db: the job folders alone)"
    for job in jobs:  # a grid sweep (no Optuna sweeper recorded): no search
        (job / ".hydra" / "hydra.yaml").unlink()
    assert sweeps.load_search(sweep, sweeps.load_jobs(sweep)) is None


def test_best_trial_direction_ties_and_failures() -> None:
    trials = [sweeps.SearchTrial(i, "COMPLETE", v, {}, None) for i, v in enumerate([3.0, 1.0, -math.inf, 1.0, None])]
    assert sweeps.best_trial(trials, "maximize").number == 0
    assert sweeps.best_trial(trials, "minimize").number == 1  # the earliest of a tie; -inf (failed) is no value
    assert sweeps.best_trial(trials[2:3], "maximize") is None


# ---------------------------------------------------------------- the checks before a study starts, in process


@contextmanager
def master_config(*overrides: str) -> Iterator[DictConfig]:
    """The config ``train.py -m overrides`` starts from (Hydra's loader in multirun mode), Hydra initialised."""
    with initialize_config_dir(config_dir=str(REPO / "configs"), version_base="1.3"):
        loader = GlobalHydra.instance().config_loader()
        yield loader.load_configuration("train", list(overrides), RunMode.MULTIRUN)


@pytest.mark.parametrize("search", SEARCHES)
def test_every_search_config_passes_its_checks(search: str, tmp_path: Path) -> None:
    space = ["optim.lr=interval(0.01, 0.1)"] if search == "custom" else []  # custom: the space on the command line
    with master_config(f"hparams_search={search}", f"runs_root={tmp_path}", "hydra.sweeper.n_trials=7", *space) as cfg:
        assert cfg.hydra.sweeper.params or space
        assert cfg.hydra.callbacks.optuna_search._target_ == "results.optuna_search.OptunaSearch"
        direction = optuna_search.prepare_search(cfg)
        sweep = Path(cfg.hydra.sweep.dir)
        assert sweep.parent == tmp_path / "multirun" / f"search_{search}"
        assert cfg.hydra.sweeper.storage == f"sqlite:///{sweep}/optuna.db" and (sweep / "optuna.db").is_file()
        assert direction == cfg.hydra.sweeper.direction and cfg.hydra.sweeper.n_trials == 7
        assert list(cfg.hydra.overrides.task)[-1] == "resume=auto"
        assert f"hydra.sweep.dir={optuna_search.quoted(str(sweep))}" in cfg.hydra.overrides.hydra


def test_a_resumed_search_counts_its_trials_and_reseeds(tmp_path: Path) -> None:
    with master_config("hparams_search=fmnist_mixup", f"runs_root={tmp_path}", "hydra.sweeper.n_trials=3") as cfg:
        optuna_search.prepare_search(cfg)
        sweep = Path(cfg.hydra.sweep.dir)
    study = optuna.load_study(study_name="fmnist_mixup", storage=f"sqlite:///{sweep}/optuna.db")
    for value in (0.5, 0.6):
        study.tell(study.ask({"optim.lr": UniformDistribution(0.01, 0.1)}), value)
    with master_config("hparams_search=fmnist_mixup", f"runs_root={tmp_path}", f"resume={sweep}",
                       "hydra.sweeper.n_trials=5") as cfg:
        optuna_search.prepare_search(cfg)
        assert cfg.hydra.sweep.dir == str(sweep) and cfg.hydra.sweeper.n_trials == 3  # 5 in all, 2 done
        assert cfg.hydra.sweeper.sampler.seed == optuna_search.resumed_seed(0, 2)
        assert [t for t in cfg.hydra.overrides.task if t.startswith("resume=")] == ["resume=auto"]


def one_line_error(*overrides: str) -> str:
    with master_config(*overrides) as cfg, pytest.raises(ConfigError) as e:
        optuna_search.prepare_search(cfg)
    return str(e.value)


def test_bad_searches_are_refused_before_a_study_exists(tmp_path: Path) -> None:
    base = ("hparams_search=fmnist_mixup", f"runs_root={tmp_path}")
    assert one_line_error(*base, "optim.lrr=interval(0.01,0.1)") == (
        "the search space names optim.lrr, but optim.lrr is not a config key (optim has: lr, momentum, nesterov, "
        "weight_decay): correct optim.lrr=... on the command line; no trial was run")
    assert one_line_error(*base, "+optim.lrr=interval(0.01,0.1)").startswith(
        "the search space: optim.lrr is not a setting of torch.optim.SGD")
    assert one_line_error(*base, "+trainer.lrr=interval(0.01,0.1)").startswith(
        "the search space: trainer.lrr is not a trainer setting")
    assert "Could not find 'loss/no_such_loss'" in one_line_error(*base, "loss=choice(mixup,no_such_loss)")
    assert one_line_error(*base, "hydra.sweeper.direction=minimize").endswith("set hydra.sweeper.direction=maximize")
    assert "is better lower" in one_line_error("hparams_search=nce_noise", f"runs_root={tmp_path}",
                                               "hydra.sweeper.direction=maximize")
    assert "names one run's checkpoint" in one_line_error(*base, f"resume={tmp_path}/last.pt")
    assert "not a search folder" in one_line_error(*base, f"resume={tmp_path}")
    assert one_line_error("hparams_search=custom", f"runs_root={tmp_path}").startswith("the search space is empty")
    assert not (tmp_path / "multirun").exists()  # no folder, no study
    grid = tmp_path / "multirun" / "search_fmnist_mixup" / "2026-01-01_00-00-00"  # a grid sweep under the search's name
    (grid / "seed=0").mkdir(parents=True)
    (grid / "seed=0" / "last.pt").write_bytes(b"")
    assert one_line_error(*base, "resume=auto") == (f"resume=auto found {grid}, a sweep without optuna.db (a grid "
                                                    "sweep of the same name?): continue a search with resume=<its "
                                                    "sweep folder>")
    assert not (grid / "optuna.db").exists()


# ---------------------------------------------------------------- real searches (processes)

SMOKE = ("hparams_search=fmnist_mixup", "smoke_run=true")


def trial_jobs(sweep: Path) -> list[Path]:
    return sorted(p for p in sweep.iterdir() if (p / ".hydra" / "overrides.yaml").is_file())


def best_acc(job: Path) -> float:
    return float(json.loads((job / "metrics.json").read_text())["val/best_acc"])


@pytest.fixture(scope="module")
def three_trials(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``train.py -m hparams_search=fmnist_mixup smoke_run=true hydra.sweeper.n_trials=3``: its sweep folder."""
    runs = tmp_path_factory.mktemp("search")
    out = run_script("train.py", "-m", *SMOKE, f"runs_root={runs}", "hydra.sweeper.n_trials=3")
    assert out.returncode == 0, out.stderr[-3000:]
    (sweep,) = (runs / "multirun" / "search_fmnist_mixup").iterdir()
    return sweep


@pytest.mark.slow
def test_a_search_makes_a_job_folder_per_trial_and_summarize_finds_its_best(three_trials: Path,
                                                                            capsys: pytest.CaptureFixture[str]) -> None:
    jobs = trial_jobs(three_trials)
    assert len(jobs) == 3 and all((j / "metrics.json").is_file() and (j / "last.pt").is_file() for j in jobs)
    study = optuna.load_study(study_name="fmnist_mixup", storage=f"sqlite:///{three_trials / 'optuna.db'}")
    trials = study.get_trials()
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 3
    folder_of = {}
    for t in trials:  # each trial's values are its job's overrides, and its value is the job's val/best_acc
        (job,) = [j for j in jobs if all(f"{k}={v}" in j.name for k, v in t.params.items())]
        assert set(t.params) == {"loss.alpha", "optim.lr"} and t.value == pytest.approx(best_acc(job), abs=1e-12)
        folder_of[t.number] = job
    best = max(jobs, key=best_acc)
    assert study.best_value == pytest.approx(best_acc(best), abs=1e-12) and folder_of[study.best_trial.number] == best

    from tools import summarize

    assert summarize.main([str(three_trials)]) == 0
    stdout = capsys.readouterr().out
    line = f"best trial: {best.name} val/best_acc={best_acc(best):.4f} (trial {study.best_trial.number}; the study's "
    assert line + "best trial agrees)" in stdout
    assert stdout.count("| COMPLETE |") == 3 and "3 of 3 trials finished" in stdout
    (bold,) = re.findall(r"<tr style='font-weight:bold'>(.*?)</tr>", (three_trials / "index.html").read_text())
    assert f"<td>{best_acc(best):.4f}</td>" in bold and f"<td>{html.escape(best.name)}</td>" in bold  # the best row


@pytest.mark.slow
def test_a_resumed_search_runs_only_the_trials_left(three_trials: Path, tmp_path: Path) -> None:
    sweep = tmp_path / three_trials.name  # a copy: the first test reads the original
    shutil.copytree(three_trials, sweep)
    before = {j.name: (j / "metrics.json").read_bytes() for j in trial_jobs(sweep)}
    out = run_script("train.py", "-m", *SMOKE, f"runs_root={tmp_path}", f"resume={sweep}", "hydra.sweeper.n_trials=4")
    assert out.returncode == 0, out.stderr[-3000:]
    assert "3 of 4 trials done, 1 to run" in out.stdout
    jobs = trial_jobs(sweep)
    new = [j for j in jobs if j.name not in before]
    assert len(jobs) == 4 and len(new) == 1 and (new[0] / "metrics.json").is_file()
    assert {j.name: (j / "metrics.json").read_bytes() for j in jobs if j.name in before} == before  # not redone
    assert not (tmp_path / "multirun").exists()  # no second sweep folder
    study = optuna.load_study(study_name="fmnist_mixup", storage=f"sqlite:///{sweep / 'optuna.db'}")
    assert [t.state for t in study.get_trials()] == [TrialState.COMPLETE] * 4
    assert study.get_trials()[3].value == pytest.approx(best_acc(new[0]), abs=1e-12)

    again = run_script("train.py", "-m", *SMOKE, f"runs_root={tmp_path}", f"resume={sweep}", "hydra.sweeper.n_trials=4")
    assert again.returncode == 0 and "4 of 4 trials done, 0 to run" in again.stdout, again.stderr[-3000:]
    assert len(trial_jobs(sweep)) == 4 and len(study.get_trials()) == 4


@pytest.mark.slow
def test_an_unknown_key_in_the_search_space_is_one_line(tmp_path: Path) -> None:
    extra = tmp_path / "configs" / "hparams_search"
    extra.mkdir(parents=True)  # the user's own search config, with a typo
    text = (REPO / "configs" / "hparams_search" / "fmnist_mixup.yaml").read_text()
    (extra / "typo.yaml").write_text(text.replace("optim.lr:", "optim.lrr:"))
    runs = tmp_path / "runs"
    out = run_script("train.py", "-m", "hparams_search=typo", f"hydra.searchpath=[file://{tmp_path / 'configs'}]",
                     f"runs_root={runs}")
    assert out.returncode == 2
    assert out.stderr == ("error: the search space names optim.lrr, but optim.lrr is not a config key (optim has: lr, "
                          "momentum, nesterov, weight_decay): correct its name in configs/hparams_search/typo.yaml "
                          "(hydra.sweeper.params); no trial was run\n")
    out = run_script("train.py", "-m", *SMOKE, f"runs_root={runs}", "optim.lrr=tag(log, interval(0.01, 0.1))")
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "correct optim.lrr=... on the command line" in out.stderr
    assert not runs.exists()  # nothing trained, no study
