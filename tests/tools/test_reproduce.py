"""tools/reproduce.py on every post's tiny size, and the stale-table check (tools/check_tables.py, results/tables.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import REPO, run_script
from omegaconf import OmegaConf

from results.tables import TableError, build_table, compare, metric_cell, numbers, read_pages, read_tables, stale

POSTS = sorted(p.stem for p in (REPO / "configs" / "post").glob("*.yaml"))


def recipe(post: str) -> dict:
    return OmegaConf.to_container(OmegaConf.load(REPO / "configs" / "post" / f"{post}.yaml"), resolve=True)


def reproduce(tmp_path: Path, *args: str):
    return run_script("tools/reproduce.py", f"runs_root={tmp_path}", *args)


def only_run(tmp_path: Path, post: str) -> Path:
    (run,) = (tmp_path / "reproduce" / post).iterdir()
    return run


def test_there_is_one_recipe_per_post():
    assert POSTS == ["gillespie", "mixup", "nce", "ode", "sentsim", "templates", "vigan", "word_discovery"]
    for post in POSTS:  # each one loads, and states every size
        assert set(recipe(post)["sizes"]) == {"full", "quick", "tiny"}, post


def test_every_recipe_table_is_marked_on_exactly_one_docs_page():
    """A table a recipe regenerates must be shown somewhere (its marker on one page of docs/), and no page may carry a
    marker that no recipe fills."""
    pages = read_pages(REPO / "docs")
    declared = {f"{post}/{name}" for post in POSTS for name in recipe(post)["tables"]}
    assert sorted(declared - set(pages)) == [], "tables marked on no page"
    assert sorted(set(pages) - declared) == [], "markers that no recipe fills"
    assert not read_tables((REPO / "README.md").read_text()), "the README links to the pages; the tables live there"


def test_a_marker_on_two_pages_is_refused(tmp_path: Path):
    table = "<!-- reproduce: p/t size=full -->\n\n| m | a |\n|---|---|\n| x | 1.0 |\n"
    (tmp_path / "one.md").write_text(table)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "two.md").write_text("# two\n\n" + table)
    with pytest.raises(TableError, match="p/t is marked on two pages"):
        read_pages(tmp_path)
    assert set(read_pages(tmp_path / "one.md")) == {"p/t"}


@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every post reproduced at size=tiny, two at a time on one thread each (the machine has two cores)."""
    root = tmp_path_factory.mktemp("reproduce")
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    cmds = {post: [sys.executable, "tools/reproduce.py", f"runs_root={root / post}", f"post={post}", "size=tiny"]
            for post in POSTS}
    results = {}
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {post: pool.submit(subprocess.run, cmd, cwd=REPO, capture_output=True, text=True, timeout=600, env=env)
                   for post, cmd in cmds.items()}
        for post, future in futures.items():
            out = future.result()
            assert out.returncode == 0, (post, out.stdout[-2000:] + out.stderr[-3000:])
            results[post] = only_run(root / post, post)
    return results


@pytest.mark.slow
@pytest.mark.parametrize("post", POSTS)
def test_tiny_reproduction_writes_the_recipes_tables(tiny_runs: dict[str, Path], post: str):
    run = tiny_runs[post]
    text = (run / "results.md").read_text()
    for field in ("- commit: ", "- hardware: ", "CPU cores", "- wall time: ", "- size: tiny", "- the post: https://kexue.fm/"):
        assert field in text, field
    tables = read_tables(text)
    spec = recipe(post)
    assert set(tables) == {f"{post}/{name}" for name in spec["tables"]}
    for name, table_spec in spec["tables"].items():
        table = tables[f"{post}/{name}"]
        assert table.size == "tiny"
        assert table.header == [c["header"] for c in table_spec["columns"]]
        assert len(table.rows) == len(table_spec["rows"])
        text_cols = [i for i, c in enumerate(table_spec["columns"]) if "metric" not in c and c.get("agg") != "n"]
        for row, row_spec in zip(table.rows, table_spec["rows"]):
            for i in text_cols:  # the row's label cells, as the recipe states them
                assert row[i] == str(row_spec.get("cells", {}).get(table.header[i], "")), (name, row)
            if "match" in row_spec:  # a row of runs: its jobs were found ("–": none finished; a grid's column
                # of its own overrides may have none at this size, "": found, without that metric)
                found = [row[i] for i, c in enumerate(table_spec["columns"]) if "metric" in c and "match" not in c]
                assert "–" not in found, (name, row)
        measured = [c for r in table.rows for i, c in enumerate(r) if "metric" in table_spec["columns"][i]]
        assert sum(bool(numbers(c)[0]) for c in measured) >= len(table.rows) // 2, (name, table.rows)
    for figure in spec.get("figures", []):
        assert (run / "figures" / figure["file"]).stat().st_size > 1000, figure["file"]
    for step in spec["steps"]:  # each sweep's own page
        assert "How the configurations differ" in (run / f"{step}.html").read_text(), step


def fake_page(path: Path, results: str, edit: tuple[str, str] | None = None) -> Path:
    """A docs page holding ``results``' tables among prose, with one ``edit`` (old, new) if given."""
    text = "# A page\n\nSome prose.\n\n" + results + "\nMore prose.\n"
    if edit:
        assert edit[0] in text
        text = text.replace(edit[0], edit[1], 1)
    path.write_text(text)
    return path


@pytest.mark.slow
def test_stale_check_passes_an_unchanged_table_and_flags_a_changed_number(tiny_runs: dict[str, Path], tmp_path: Path):
    run = tiny_runs["gillespie"]
    results = (run / "results.md").read_text()
    moments = read_tables(results)["gillespie/moments"]
    variance = moments.rows[1][2]  # protein's simulated variance, e.g. 109.74

    same = fake_page(tmp_path / "same.md", results)
    out = run_script("tools/check_tables.py", str(run / "results.md"), "--pages", str(same))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "every cell agrees" in out.stdout

    # 1 % of rel tolerance on the variance: +3 % is stale, and named by table, row and column
    changed = f"{float(variance) * 1.03:.2f}"
    stale_page = fake_page(tmp_path / "stale.md", results, (f"| {variance} |", f"| {changed} |"))
    out = run_script("tools/check_tables.py", str(run / "results.md"), "--pages", str(stale_page))
    assert out.returncode == 1, out.stdout + out.stderr
    (line,) = [x for x in out.stdout.splitlines() if x.startswith("stale:")]
    assert "gillespie/moments" in line and "'protein'" in line and "'simulated variance'" in line and changed in line

    # the same check through tools/reproduce.py, from the run's own sweep folders: nothing is run again
    out = reproduce(tmp_path / "again", "post=gillespie", "size=tiny", f"from={run}", f"check={stale_page}")
    assert out.returncode == 1 and "1 difference(s)" in out.stdout, out.stdout[-2000:] + out.stderr[-2000:]
    rerun = only_run(tmp_path / "again", "gillespie")
    assert not (rerun / "gene_expression").exists() and "(tables only)" in (rerun / "results.md").read_text()
    out = reproduce(tmp_path / "again2", "post=gillespie", "size=tiny", f"from={run}", f"check={same}")
    assert out.returncode == 0 and "every table agrees" in out.stdout, out.stdout[-2000:]

    # a table of another size is not compared, it is reported
    other_size = fake_page(tmp_path / "other_size.md", results.replace("size=tiny", "size=full"))
    out = run_script("tools/check_tables.py", str(run / "results.md"), "--pages", str(other_size))
    assert out.returncode == 1 and "not comparable" in out.stdout


def test_a_seeds_spread_is_a_tolerance_not_a_difference():
    tol = {"sigmas": 2}
    assert stale("0.775 ± 0.007", "0.770 ± 0.007", tol) == ""  # 0.005 apart, spread 0.007
    assert stale("0.790 ± 0.007", "0.770 ± 0.007", tol) != ""  # 0.020 > 2 x 0.007 (+ rounding)
    assert stale("8.30 ± 0.17 %", "8.08 ± 0.11 %", tol) == ""
    assert stale("0.707", "**0.707**", {}) == ""  # bold is not a difference
    assert stale("0.7075", "0.707", {}) == ""  # within half a unit of the README's last digit
    assert stale("0.708", "0.707", {}) != ""
    assert stale("8.8e-6", "8.8e-06", {}) == "" and stale("9.0e-6", "8.8e-6", {}) != ""
    assert stale("12,037.0", "12,037", {"rel": 0.01}) == "" and stale("12,337.0", "12,037", {"rel": 0.01}) != ""
    assert stale("3/10", "3/10", {}) == "" and stale("4/10", "3/10", {}) != ""
    assert stale("(not in the post)", "(not in the post)", {}) == "" and stale("x", "y", {}) == "text differs"
    assert numbers("0.68 ± 0.20") == ([0.68], 0.2, [2])


def test_compare_reports_missing_rows_and_columns():
    fresh = read_tables("<!-- reproduce: p/t size=full -->\n| m | a | b |\n|---|---:|---:|\n"
                        "| x | 1.0 | 2.0 |\n| y | 3.0 | 4.0 |\n")
    page = read_tables("<!-- reproduce: p/t -->\n\n| m | a | extra |\n|---|---|---|\n| **x** | 1.0 | z |\n")
    table = fresh["p/t"]
    table.text_columns = ["m"]
    problems = compare(table, page["p/t"])
    assert any("column 'b'" in p for p in problems) and any("row 'y'" in p for p in problems)
    assert not any("row 'x'" in p for p in problems)  # x agrees in the column both tables have
    assert page["p/t"].size == "full"  # a marker without size= is the full size


@pytest.mark.slow
def test_bad_inputs_are_one_line(tmp_path: Path):
    for args, needle in ((["post=gillespie", "size=huge"], "size='huge'"),
                         (["post=gillespie", f"from={tmp_path / 'missing'}"], "no folder gene_expression")):
        out = reproduce(tmp_path, *args)
        assert out.returncode != 0 and needle in out.stderr, (args, out.stderr[-1500:])
    out = run_script("tools/check_tables.py", str(tmp_path / "missing.md"))
    assert out.returncode == 2 and out.stderr.startswith("error: ") and "does not exist" in out.stderr


def test_a_recipe_typo_is_refused():
    spec = {"step": "s", "columns": [{"header": "a"}, {"header": "b", "metrc": "test/acc"}], "rows": [{"match": {}}]}
    with pytest.raises(TableError, match=r"unknown key\(s\) \['metrc'\]"):
        build_table("p/t", spec, {}, "full")


def test_a_column_can_print_the_standard_error():
    values = [6.0, 7.0, 8.0, 7.0]  # mean 7, sample std sqrt(2/3) = 0.816, standard error 0.408
    assert metric_cell(values, {"header": "m", "digits": 2}, 4) == "7.00 ± 0.82"
    assert metric_cell(values, {"header": "m", "digits": 2, "error": "sem"}, 4) == "7.00 ± 0.41"
