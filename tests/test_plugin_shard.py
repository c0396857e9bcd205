"""--exp-shard I/N, --exp-shard-by duration, --exp-sweep-id, --exp-list-cases (pytest_plugin/shard.py)."""

from __future__ import annotations

import datetime as _dt
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from plugin_helpers import NO_HYPOTHESIS, OPT_IN, TOY, stored_runs

from pytest_sacredx.pytest_plugin.shard import (
    CI_RUN_IDS,
    assign_shards,
    case_durations,
    ci_sweep_id,
    parse_shard,
    plan_fingerprint,
    seed_from_sweep_id,
    shard_of,
)

BASE = ("-p", "no:randomly", "-p", "no:benchmark", "-p", "no:cacheprovider", *OPT_IN, *NO_HYPOTHESIS)
SWEEP = ("--exp-config", "C=1,2,3,4,5,6,7,8,9,10,11,12")


@pytest.fixture(autouse=True)
def _no_ci_run_id(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests decide themselves whether a CI run id is present."""
    for var, _ in CI_RUN_IDS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.delenv("PYTEST_SACREDX_SHARD", raising=False)
    monkeypatch.delenv("PYTEST_SACREDX_SWEEP_ID", raising=False)


def inprocess(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_inprocess(*BASE, "-p", "no:xdist", *args)


def by_case(runs: list[Any]) -> dict[str, Any]:
    return {r.meta["pytest"]["case_id"]: r for r in runs}


# ------------------------------------------------------------------------------ the pure parts
@given(st.integers(1, 500), st.integers(0, 500))
def test_parse_shard_round_trips(count: int, offset: int) -> None:
    index = offset % count + 1
    shard = parse_shard(f" {index} / {count} ")
    assert (shard.index, shard.count) == (index, count)
    assert parse_shard(str(shard)) == shard


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0/2", "shards are numbered 1…N"),
        ("3/2", "shards are numbered 1…N"),
        ("1/0", "N must be at least 1"),
        ("two", "expected I/N"),
        ("1-2", "expected I/N"),
    ],
)
def test_parse_shard_names_the_mistake(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_shard(text)


keys_strategy = st.lists(st.text(min_size=1, max_size=30), min_size=1, max_size=60, unique=True)


@given(keys_strategy, st.integers(1, 7), st.randoms(use_true_random=False))
def test_every_case_is_in_exactly_one_shard_whatever_the_order(keys: list[str], count: int, rnd: Any) -> None:
    plan = assign_shards(keys, count)
    shuffled = list(keys)
    rnd.shuffle(shuffled)
    assert assign_shards(shuffled, count) == plan
    assert set(plan) == set(keys) and all(1 <= s <= count for s in plan.values())
    assert all(plan[k] == shard_of(k, count) for k in keys)


@given(keys_strategy, st.integers(1, 5), st.data())
def test_duration_plan_is_a_partition_that_depends_only_on_keys_and_durations(
    keys: list[str], count: int, data: st.DataObject
) -> None:
    known = data.draw(st.lists(st.sampled_from(keys), unique=True))
    durations = {k: data.draw(st.floats(0, 1000)) for k in known}
    plan = assign_shards(keys, count, durations)
    assert assign_shards(list(reversed(keys)), count, dict(reversed(durations.items()))) == plan
    assert set(plan) == set(keys) and all(1 <= s <= count for s in plan.values())
    for k in keys:
        if k not in durations:
            assert plan[k] == shard_of(k, count)  # unknown cases keep their hash shard


def test_duration_plan_balances_long_cases() -> None:
    durations = {"a": 10.0, "b": 9.0, "c": 1.0, "d": 1.0, "e": 1.0, "f": 1.0, "g": 1.0}
    plan = assign_shards(durations, 2, durations)
    loads = [sum(d for k, d in durations.items() if plan[k] == s) for s in (1, 2)]
    assert plan["a"] != plan["b"] and max(loads) == 12.0


def test_plan_fingerprint_names_the_split() -> None:
    plan = {"a": 1, "b": 2}
    assert plan_fingerprint(plan) == plan_fingerprint(dict(reversed(plan.items())))
    assert plan_fingerprint(plan) != plan_fingerprint({"a": 2, "b": 1})


def test_ci_run_ids_name_the_sweep() -> None:
    assert ci_sweep_id({}) is None
    assert ci_sweep_id({"GITHUB_RUN_ID": "42", "GITHUB_RUN_ATTEMPT": "2"}) == "gh-42"
    assert ci_sweep_id({"CI_PIPELINE_ID": "7"}) == "gl-7"
    assert seed_from_sweep_id("gh-42") == seed_from_sweep_id("gh-42") != seed_from_sweep_id("gh-43")


def _record(case: str, sweep: str, seconds: float, status: str = "COMPLETED") -> Any:
    from pytest_sacredx.observers.record import RunRecord

    start = _dt.datetime(2026, 1, 1)
    return RunRecord(id=case + sweep, status=status, start_time=start,
                     stop_time=start + _dt.timedelta(seconds=seconds),
                     meta={"pytest": {"case_id": case, "sweep_id": sweep}})


def test_durations_come_from_completed_runs_of_other_sweeps() -> None:
    records = [
        _record("a", "s1", 1.0), _record("a", "s2", 3.0), _record("a", "s3", 2.0), _record("a", "s4", 100.0),
        _record("b", "s1", 5.0, "FAILED"), _record("c", "now", 9.0),
    ]
    assert case_durations(records, exclude_sweep="now") == {"a": 3.0}  # median of the last three


# ------------------------------------------------------------------------------ the plugin
def test_shards_together_run_the_unsharded_sweep_with_its_seeds(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(exp_toy=TOY)
    whole = inprocess(pytester, *SWEEP, "--exp-sweep-id", "nightly", "--exp-observer", "tinydb:whole")
    whole.assert_outcomes(passed=12)
    union: dict[str, Any] = {}
    deselected = 0
    for i in (1, 2, 3):
        result = inprocess(pytester, *SWEEP, "--exp-shard", f"{i}/3", "--exp-sweep-id", "nightly",
                           "--exp-observer", f"tinydb:shard{i}")
        outcomes = result.parseoutcomes()
        deselected += outcomes.get("deselected", 0)
        result.stdout.fnmatch_lines([f"sacredx: shard {i}/3 by hash: * of 12 items (plan *, sweep nightly)"])
        runs = by_case(stored_runs(pytester, f"shard{i}"))
        assert not set(runs) & set(union), "a case ran in two shards"
        union.update(runs)
    assert deselected == 2 * 12
    expected = by_case(stored_runs(pytester, "whole"))
    assert set(union) == set(expected) and len(union) == 12
    for case, run in union.items():
        assert run.meta["pytest"]["case_seed"] == expected[case].meta["pytest"]["case_seed"]
        assert run.result == expected[case].result
        assert run.meta["pytest"]["sweep_id"] == "nightly"
        assert run.meta["pytest"]["shard"]["count"] == 3
    seeds = {r.meta["pytest"]["session_seed"] for r in union.values()}
    assert seeds == {seed_from_sweep_id("nightly")}
    assert len({r.meta["pytest"]["shard"]["plan"] for r in union.values()}) == 1


def test_an_explicit_seed_wins_over_the_sweep_ids(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(exp_toy=TOY)
    inprocess(pytester, "--exp-shard", "1/2", "--exp-sweep-id", "s", "--exp-seed", "77", *SWEEP)
    assert {r.meta["pytest"]["session_seed"] for r in stored_runs(pytester)} == {77}


def test_a_sharded_session_without_a_sweep_id_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(exp_toy=TOY)
    result = inprocess(pytester, "--exp-shard", "1/2", *SWEEP)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--exp-shard 1/2: the shards of one sweep need one session seed and one "
                                 "sweep id; give every shard the same --exp-sweep-id ID*GITHUB_RUN_ID*"])
    result = inprocess(pytester, "--exp-shard", "1/2", "--exp-seed", "3", *SWEEP)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*give every shard the same --exp-sweep-id ID as well*"])
    result = inprocess(pytester, "--exp-shard", "3/2", *SWEEP)
    result.stderr.fnmatch_lines(["*--exp-shard 3/2: shards are numbered 1…N*"])


def test_one_shard_of_one_needs_no_sweep_id(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(exp_toy=TOY)
    inprocess(pytester, "--exp-shard", "1/1", *SWEEP).assert_outcomes(passed=12)


def test_the_ci_run_id_gives_sweep_id_and_seed(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile(exp_toy=TOY)
    monkeypatch.setenv("GITHUB_RUN_ID", "9876")
    monkeypatch.setenv("PYTEST_SACREDX_SHARD", "2/2")
    result = inprocess(pytester, *SWEEP)
    assert result.parseoutcomes()["deselected"] > 0
    runs = stored_runs(pytester)
    assert {r.meta["pytest"]["sweep_id"] for r in runs} == {"gh-9876"}
    assert {r.meta["pytest"]["session_seed"] for r in runs} == {seed_from_sweep_id("gh-9876")}
    assert {r.meta["pytest"]["shard"]["index"] for r in runs} == {2}


def test_the_command_line_wins_over_environment_and_ini(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile(exp_toy=TOY)
    pytester.makeini("[pytest]\nsacredx_shard = 1/2\n")
    monkeypatch.setenv("PYTEST_SACREDX_SWEEP_ID", "from-env")
    inprocess(pytester, *SWEEP)
    assert {r.meta["pytest"]["shard"]["index"] for r in stored_runs(pytester)} == {1}
    assert {r.meta["pytest"]["sweep_id"] for r in stored_runs(pytester)} == {"from-env"}
    monkeypatch.setenv("PYTEST_SACREDX_SHARD", "2/2")
    inprocess(pytester, *SWEEP, "--exp-observer", "tinydb:env")
    assert {r.meta["pytest"]["shard"]["index"] for r in stored_runs(pytester, "env")} == {2}
    inprocess(pytester, *SWEEP, "--exp-shard", "1/2", "--exp-observer", "tinydb:cli")
    assert {r.meta["pytest"]["shard"]["index"] for r in stored_runs(pytester, "cli")} == {1}


def test_plain_tests_are_sharded_too_and_k_selects_before_the_split(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plain="\n".join(f"def test_{i}(): pass" for i in range(20)))
    counts = []
    for i in (1, 2):
        result = inprocess(pytester, "--exp-shard", f"{i}/2", "--exp-sweep-id", "p", "-k", "not test_1")
        outcomes = result.parseoutcomes()
        counts.append(outcomes.get("passed", 0))
    assert sum(counts) == 20 - 11  # test_1 and test_10 … test_19 deselected by -k


def test_under_xdist_each_shard_runs_the_same_cases(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(exp_toy=TOY)
    inprocess(pytester, *SWEEP, "--exp-shard", "1/2", "--exp-sweep-id", "x", "--exp-observer", "tinydb:serial")
    result = pytester.runpytest_subprocess(*BASE, "-n", "2", *SWEEP, "--exp-shard", "1/2", "--exp-sweep-id",
                                           "x", "--exp-observer", "tinydb:xdist")
    assert result.ret == 0
    serial, xdist = by_case(stored_runs(pytester, "serial")), by_case(stored_runs(pytester, "xdist"))
    assert set(serial) == set(xdist)
    assert {c: r.result for c, r in serial.items()} == {c: r.result for c, r in xdist.items()}
    assert len({r.meta["pytest"]["session"] for r in xdist.values()}) == 1  # one session, two workers
    assert {r.meta["pytest"]["worker"] for r in xdist.values()} <= {"gw0", "gw1"}


MARKED = '''
import pytest
from exp_toy import ex

@pytest.mark.experiment(ex, C=[1, 2])
def test_marked(exp_run):
    assert exp_run().status == "COMPLETED"

def test_plain():
    pass
'''


def test_list_cases_writes_the_experiment_cases_of_the_selection(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(exp_toy=TOY, test_marked=MARKED)
    result = inprocess(pytester, "--collect-only", "-q", "--exp-config", "gamma=0.1,0.2",
                       "--exp-list-cases", "out/cases.txt")
    assert result.ret == 0
    lines = (pytester.path / "out" / "cases.txt").read_text().splitlines()
    assert lines == sorted(lines)
    assert "exp_toy.py::toy[gamma=0.1]" in lines and "test_marked.py::test_marked[C=1-gamma=0.2]" in lines
    assert not any("test_plain" in line for line in lines) and len(lines) == 6
    assert not (pytester.path / ".sacredx").exists()  # collection records nothing
    inprocess(pytester, "--collect-only", "-q", "--exp-config", "gamma=0.1,0.2", "--exp-list-cases",
              "one.txt", "--exp-shard", "1/2", "--exp-sweep-id", "l")
    inprocess(pytester, "--collect-only", "-q", "--exp-config", "gamma=0.1,0.2", "--exp-list-cases",
              "two.txt", "--exp-shard", "2/2", "--exp-sweep-id", "l")
    halves = [set((pytester.path / f).read_text().splitlines()) for f in ("one.txt", "two.txt")]
    assert not halves[0] & halves[1] and halves[0] | halves[1] == set(lines)


def test_list_cases_under_xdist_is_written_once(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(exp_toy=TOY)
    result = pytester.runpytest_subprocess(*BASE, "-n", "2", *SWEEP, "--exp-list-cases", "cases.txt")
    assert result.ret == 0
    assert len((pytester.path / "cases.txt").read_text().splitlines()) == 12


def _seed_store(path: Path, durations: dict[str, float]) -> None:
    """A TinyDB store holding one earlier sweep with the given case durations."""
    from pytest_sacredx.observers.tinydb_hashfs import TinyDbObserver

    observer = TinyDbObserver(str(path))
    start = _dt.datetime(2026, 1, 1)
    for case, seconds in durations.items():
        observer.started_event(ex_info={"name": "toy", "sources": [], "dependencies": [], "base_dir": "."},
                               command="main", host_info={}, start_time=start, config={},
                               meta_info={"pytest": {"case_id": case, "sweep_id": "earlier"}}, _id=None)
        observer.completed_event(stop_time=start + _dt.timedelta(seconds=seconds), result=None)


def test_shard_by_duration_balances_by_earlier_runs_in_the_store(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(exp_toy=TOY)
    cases = [f"exp_toy.py::toy[C={c}]" for c in range(1, 13)]
    durations = {cases[0]: 60.0, cases[1]: 50.0, **{c: 1.0 for c in cases[2:10]}}  # two unknown
    _seed_store(pytester.path / "store", durations)
    expected = assign_shards(cases, 2, durations)
    assert expected != assign_shards(cases, 2)  # the durations change the split
    chosen: dict[str, int] = {}
    for i in (1, 2):
        result = inprocess(pytester, *SWEEP, "--exp-shard", f"{i}/2", "--exp-shard-by", "duration",
                           "--exp-sweep-id", "now", "--exp-observer", "tinydb:store", "--collect-only",
                           "-q", "--exp-list-cases", f"shard{i}.txt")
        result.stdout.fnmatch_lines([f"sacredx: shard {i}/2 by duration: * of 12 items*"])
        chosen.update({c: i for c in (pytester.path / f"shard{i}.txt").read_text().splitlines()})
    assert chosen == expected
    assert chosen[cases[0]] != chosen[cases[1]]


def test_shard_by_duration_without_a_store_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(exp_toy=TOY)
    result = inprocess(pytester, *SWEEP, "--exp-shard", "1/2", "--exp-shard-by", "duration",
                       "--exp-sweep-id", "d", "--exp-observer", "none")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--exp-shard-by duration reads the durations of earlier runs*"])
    # a store that does not exist yet (the first sweep) splits by hash
    result = inprocess(pytester, *SWEEP, "--exp-shard", "1/2", "--exp-shard-by", "duration",
                       "--exp-sweep-id", "d", "--exp-observer", "tinydb:fresh", "--collect-only", "-q",
                       "--exp-list-cases", "c.txt")
    assert result.ret == 0
    hashed = {c for c, s in assign_shards([f"exp_toy.py::toy[C={c}]" for c in range(1, 13)], 2).items() if s == 1}
    assert set((pytester.path / "c.txt").read_text().splitlines()) == hashed


@pytest.mark.slow
@pytest.mark.service
def test_concurrent_shards_into_postgresql_make_the_unsharded_sweep(pytester: pytest.Pytester, fresh_pg_url: str) -> None:
    """Three pytest processes at once into the PostgreSQL server: cases, seeds and results of their
    union are those of one unsharded process."""
    pytester.makepyfile(exp_toy=TOY)
    env = {**os.environ, "PYTHONPATH": str(pytester.path)}
    procs = [
        subprocess.Popen([sys.executable, "-m", "pytest", *BASE, "-p", "no:xdist", *SWEEP, "--exp-shard", f"{i}/3",
                          "--exp-sweep-id", "pg-sweep", "--exp-observer", fresh_pg_url],
                         cwd=pytester.path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for i in (1, 2, 3)
    ]
    outputs = [p.communicate(timeout=300)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), "\n".join(outputs)
    inprocess(pytester, *SWEEP, "--exp-sweep-id", "pg-sweep", "--exp-observer", "tinydb:whole")
    # read in a fresh process: in-process pytester runs may have reloaded SQLAlchemy's modules here
    script = (
        "import json, sys\n"
        "from pytest_sacredx.observers.readers import open_reader\n"
        "runs = list(open_reader(sys.argv[1]).list_runs())\n"
        "print(json.dumps([[r.meta['pytest'], r.result, r.config] for r in runs]))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script, fresh_pg_url], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    sharded = {meta["case_id"]: (meta, result, config) for meta, result, config in json.loads(proc.stdout)}
    whole = by_case(stored_runs(pytester, "whole"))
    assert set(sharded) == set(whole) and len(sharded) == 12
    for case, (meta, result, config) in sharded.items():
        assert (meta["case_seed"], result, config) == (
            whole[case].meta["pytest"]["case_seed"], whole[case].result, whole[case].config)
    assert len({meta["session"] for meta, _, _ in sharded.values()}) == 3
