"""Run the SBML Test Suite's stochastic cases (DSMTS): ``python tools/sbml_suite.py [cases=[1,2]] [method=...]``.

Each case is read from its SBML file, simulated ``trajectories`` times and scored at every output time
by the suite's rule (``ssa/sbml_suite.py``): Z = sqrt(n)(mean - mu)/sigma in (-3, 3) and
Y = sqrt(n/2)(s^2/sigma^2 - 1) in (-5, 5). A case the importer refuses is listed with the reason.
Writes to ``runs/sbml_suite/<method>_<level>/<date_time>/``: ``results.json`` and ``table.md``.
"""

from __future__ import annotations

import json

import hydra
import numpy as np
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig

from engine.cli import print_result, run_guarded
from engine.errors import ConfigError, as_int
from engine.files import write_atomic
from ssa.sbml_import import read_sbml
from ssa.sbml_suite import ALLOWED_OUTSIDE, P_OUTSIDE_Z, case_numbers, check_case, read_case

COMMON_TAGS = {"Amount", "HasOnlySubstanceUnits"}  # (nearly) every case has them: left out of the table


def _cases(value) -> list[str]:
    known = case_numbers()
    if value == "all":
        return known
    if not isinstance(value, (list, tuple)) and not hasattr(value, "__iter__") or isinstance(value, str):
        raise ConfigError(f"cases={value!r}: give all, or a list of case numbers such as [1, 28]")
    chosen = [f"{as_int('cases', v, 1):05d}" for v in value]
    unknown = [c for c in chosen if c not in known]
    if unknown:
        raise ConfigError(f"cases {unknown} are not in the suite; it has {known[0]}-{known[-1]}")
    return chosen


def _row(case, first, second) -> dict:
    max_abs = lambda d: float(max([np.abs(v).max() for v in d.values() if v.size] or [0.0]))  # noqa: E731
    verdict = "pass" if first.passed else ("pass (second run)" if second is not None and second.passed else "FAIL")
    return {"case": case.number, "synopsis": case.synopsis, "description": case.description, "tags": case.tags,
            "verdict": verdict,
            "outside_z": first.outside_z, "outside_y": first.outside_y, "points": first.points,
            "max_abs_z": max_abs(first.z), "max_abs_y": max_abs(first.y), "events": first.events,
            "wall_s": round(first.wall_s, 2),
            "second_run": None if second is None else {"outside_z": second.outside_z, "outside_y": second.outside_y,
                                                       "max_abs_z": max_abs(second.z), "passed": second.passed},
            "z": {k: v.round(3).tolist() for k, v in first.z.items()},
            "y": {k: v.round(3).tolist() for k, v in first.y.items()}}


def run(cfg: DictConfig, out) -> dict:
    if cfg.level not in ("l3v2", "l2v4"):
        raise ConfigError(f"level={cfg.level!r}: use l3v2 (SBML Level 3 version 2) or l2v4 (Level 2 version 4)")
    n = as_int("trajectories", cfg.trajectories, 2)
    kw = {"simulate_fn": instantiate(cfg.method), "level": cfg.level, "device": str(cfg.device)}
    method = {"method": HydraConfig.get().runtime.choices.get("method", "direct"),
              **{k: v for k, v in cfg.method.items() if not k.startswith("_")}}
    rows = []
    for number in _cases(cfg.cases):
        case = read_case(number)
        try:
            read_sbml(case.sbml(cfg.level))
        except ConfigError as e:  # the importer refused the model: listed with the reason
            rows.append({"case": number, "synopsis": case.synopsis, "description": case.description, "tags": case.tags,
                         "verdict": f"refused: {e}"})
            print(f"{number}: refused: {e}", flush=True)
            continue
        first, second = check_case(case, n, as_int("seed", cfg.seed), **kw)
        rows.append(_row(case, first, second))
        r = rows[-1]
        print(f"{number}: {r['verdict']:<17} outside Z {r['outside_z']}, Y {r['outside_y']} of {r['points']} points; "
              f"max |Z| {r['max_abs_z']:.2f}, |Y| {r['max_abs_y']:.2f}; {r['events']:,} events in {r['wall_s']:.1f} s",
              flush=True)
    scored = [r for r in rows if "points" in r]
    points = sum(r["points"] for r in scored)
    summary = {"trajectories": n, "seed": cfg.seed, **method, "level": cfg.level, "device": str(cfg.device),
               "allowed_outside_per_band": ALLOWED_OUTSIDE,
               "cases": len(rows), "passed": sum(r["verdict"] == "pass" for r in rows),
               "passed_second_run": sum(r["verdict"] == "pass (second run)" for r in rows),
               "failed": sum(r["verdict"] == "FAIL" for r in rows),
               "refused": sum(r["verdict"].startswith("refused") for r in rows),
               "points": points, "outside_z": sum(r["outside_z"] for r in scored),
               "expected_outside_z": round(P_OUTSIDE_Z * points, 1),
               "outside_y": sum(r["outside_y"] for r in scored),
               "events": sum(r["events"] for r in scored), "wall_s": round(sum(r["wall_s"] for r in scored), 1)}
    write_atomic(out / "results.json", json.dumps({"summary": summary, "cases": rows}, indent=1) + "\n")
    write_atomic(out / "table.md", table(rows, summary))
    return summary


def table(rows: list[dict], s: dict) -> str:
    lines = ["| case | what it tests | result | points outside Z / Y (of) | max abs Z | max abs Y |",
             "|---|---|---|---|---:|---:|"]
    for r in rows:
        tags = [t for t in r["tags"] if t not in COMMON_TAGS]
        what = r["description"] + (f" ({', '.join(tags)})" if tags else "")
        if "points" not in r:
            lines.append(f"| {r['case']} | {what} | {r['verdict']} | | | |")
            continue
        again = r["second_run"]
        extra = f"; second run: {again['outside_z']} / {again['outside_y']}, max Z {again['max_abs_z']:.2f}" if again else ""
        lines.append(f"| {r['case']} | {what} | {r['verdict']}{extra} | {r['outside_z']} / {r['outside_y']} "
                     f"({r['points']}) | {r['max_abs_z']:.2f} | {r['max_abs_y']:.2f} |")
    lines.append("")
    settings = f", epsilon {s['epsilon']}" if "epsilon" in s else ""
    lines.append(f"{s['cases']} cases, {s['trajectories']:,} trajectories each ({s['method']}{settings}, {s['level']}): "
                 f"{s['passed']} passed, {s['passed_second_run']} passed on a second run, {s['failed']} failed, "
                 f"{s['refused']} refused. Points outside the Z band in the first runs: {s['outside_z']} of "
                 f"{s['points']:,} (expected by chance: {s['expected_outside_z']}); outside the Y band: {s['outside_y']}.")
    return "\n".join(lines) + "\n"


def _work(cfg: DictConfig, out) -> str:
    s = run(cfg, out)
    return (f"{s['cases']} cases: {s['passed']} passed, {s['passed_second_run']} passed on a second run, "
            f"{s['failed']} failed, {s['refused']} refused; Z outside {s['outside_z']} of {s['points']:,} points "
            f"(expected {s['expected_outside_z']}), Y outside {s['outside_y']}; {s['events']:,} events in "
            f"{s['wall_s']} s\noutputs: {out}/ (results.json, table.md)")


@hydra.main(version_base="1.3", config_path="../configs", config_name="sbml_suite")
def main(cfg: DictConfig) -> None:
    print_result(run_guarded(_work, cfg, "the same command and seed gives the same runs"))


if __name__ == "__main__":
    main()
