"""S3Observer against moto's S3 server over HTTP (``.ci/services.sh``), plus offline validation tests."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("boto3")

from pytest_sacredx.errors import (  # noqa: E402
    ArtifactNameError,
    MissingExtraError,
    ObserverURIError,
    RunIdExistsError,
)
from pytest_sacredx.observers.s3_observer import (  # noqa: E402
    InvalidS3LocationError,
    S3Observer,
    validate_bucket_name,
    validate_prefix,
)

T0 = dt.datetime(2024, 5, 1, 12, 0, 0, 123456)
SECRET = "s3cret"
HOST = {"hostname": "box", "os": ["Linux", "Linux-6.1"], "python_version": "3.11.7", "cpu": "x"}
META = {
    "command": "main",
    "options": {"--sql": f"postgresql+psycopg://user:{SECRET}@db.example/runs"},
    "named_configs": [],
}


def ex_info(base_dir: Path) -> dict[str, Any]:
    (base_dir / "exp.py").write_text("print('experiment')\n")
    return {
        "name": "demo",
        "base_dir": str(base_dir),
        "sources": [("exp.py", "0123456789abcdef0123456789abcdef")],
        "dependencies": ["numpy==1.26.0"],
        "repositories": [],
        "mainfile": "exp.py",
    }


def drive(
    obs: Any, tmp_path: Path, *, result: Any = None, end: str = "completed", _id: Any = None
) -> Any:
    """Send a full run's events, as the run engine does, and return the id the observer gave."""
    run_id = obs.started_event(
        ex_info(tmp_path), "main", HOST, T0, {"lr": 0.1, "t": (1, 2)}, META, _id
    )
    t = T0 + dt.timedelta(seconds=1)
    obs.heartbeat_event({"epoch": 1}, "line 1\n", t, None)
    obs.log_metrics(
        {"loss": {"name": "loss", "steps": [0, 1], "values": [1.0, 0.5], "timestamps": [t, t]}}, {}
    )
    obs.log_metrics(
        {"loss": {"name": "loss", "steps": [2], "values": [0.25], "timestamps": [t]}}, {}
    )
    artifact = tmp_path / "model.bin"
    artifact.write_bytes(b"\x00weights\xff")
    obs.artifact_event("model.bin", str(artifact))
    resource = tmp_path / "data.csv"
    resource.write_text("a,b\n1,2\n")
    obs.resource_event(str(resource))
    stop = T0 + dt.timedelta(seconds=2)
    obs.heartbeat_event({"epoch": 2}, "line 1\nline 2\n", stop, result)
    if end == "completed":
        obs.completed_event(stop, result)
    elif end == "failed":
        obs.failed_event(stop, ["Traceback (most recent call last):\n", "ValueError: boom\n"])
    else:
        obs.interrupted_event(stop, end)
    obs.join()
    return run_id


@pytest.fixture
def obs(s3_endpoint: str, s3_bucket: str) -> S3Observer:
    return S3Observer(s3_bucket, "runs/demo", region="us-east-1", endpoint_url=s3_endpoint)


def keys(obs: S3Observer) -> list[str]:
    listing = obs.s3.list_objects_v2(Bucket=obs.bucket)
    return sorted(item["Key"] for item in listing.get("Contents", []))


def read_json(obs: S3Observer, key: str) -> Any:
    return json.loads(obs.s3.get_object(Bucket=obs.bucket, Key=key)["Body"].read())


# -- against the server ------------------------------------------------------------------------------


@pytest.mark.service
def test_full_run_round_trips_in_filestorage_layout(obs: S3Observer, tmp_path: Path) -> None:
    assert drive(obs, tmp_path, result={"acc": 0.9, "pair": (1, "a")}) == 1  # an int, as Sacred's
    assert keys(obs) == [
        "runs/demo/1/config.json",
        "runs/demo/1/cout.txt",
        "runs/demo/1/info.json",
        "runs/demo/1/metrics.json",
        "runs/demo/1/model.bin",
        "runs/demo/1/run.json",
        "runs/demo/_resources/data_e5ebd4c02cefbe7955977c67ada242b7.csv",
        "runs/demo/_sources/exp_0123456789abcdef0123456789abcdef.py",
    ]
    run = read_json(obs, "runs/demo/1/run.json")
    assert set(run) == {
        "experiment", "command", "host", "start_time", "meta", "status", "resources", "artifacts",
        "heartbeat", "result", "stop_time",
    }  # fmt: skip
    assert run["experiment"]["sources"] == [
        ["exp.py", "_sources/exp_0123456789abcdef0123456789abcdef.py"]
    ]
    assert read_json(obs, "runs/demo/1/metrics.json")["loss"]["values"] == [1.0, 0.5, 0.25]

    rec = obs.load_run(1)
    assert rec.id == "1" and rec.status == "COMPLETED"
    assert rec.result == {"acc": 0.9, "pair": [1, "a"]}
    assert rec.config == {"lr": 0.1, "t": [1, 2]}
    assert rec.host == HOST and rec.command == "main"
    assert rec.experiment["name"] == "demo"
    assert rec.start_time == T0 and rec.stop_time == rec.heartbeat == T0 + dt.timedelta(seconds=2)
    assert rec.captured_out == "line 1\nline 2\n"
    assert rec.info == {"epoch": 2}
    assert rec.metrics["loss"]["steps"] == [0, 1, 2]
    assert rec.metrics["loss"]["timestamps"][0] == T0 + dt.timedelta(seconds=1)
    assert rec.artifacts == ["model.bin"]
    assert rec.resources == [
        [str(tmp_path / "data.csv"), "runs/demo/_resources/data_e5ebd4c02cefbe7955977c67ada242b7.csv"]
    ]
    assert rec.store == f"s3://{obs.bucket}/runs/demo"
    assert obs.load_artifact("1", "model.bin") == b"\x00weights\xff"
    assert [r.id for r in obs.list_runs()] == ["1"]
    with pytest.raises(KeyError):
        obs.load_run(2)


@pytest.mark.service
@pytest.mark.parametrize("result", [0.5, "text", [1, 2], None, {"nested": {"x": True}}])
def test_any_result_round_trips(obs: S3Observer, tmp_path: Path, result: Any) -> None:
    drive(obs, tmp_path, result=result)
    assert obs.load_run("1").result == result


@pytest.mark.service
def test_failed_and_interrupted_runs(obs: S3Observer, tmp_path: Path) -> None:
    drive(obs, tmp_path, end="failed")
    drive(obs, tmp_path, end="INTERRUPTED")
    drive(obs, tmp_path, end="TIMEOUT")
    failed, interrupted, timeout = obs.list_runs()
    assert failed.status == "FAILED"
    assert failed.fail_trace == ["Traceback (most recent call last):\n", "ValueError: boom\n"]
    assert interrupted.status == "INTERRUPTED" and interrupted.stop_time is not None
    assert timeout.status == "TIMEOUT"
    assert [r.id for r in (failed, interrupted, timeout)] == ["1", "2", "3"]


@pytest.mark.service
def test_started_run_is_sacreds_dir_cout_isoformat_times_and_text_trace(
    obs: S3Observer, tmp_path: Path
) -> None:
    assert obs.dir is None
    whole_second = dt.datetime(1999, 5, 4, 3, 2, 1)
    run_id = obs.started_event(ex_info(tmp_path), "main", HOST, whole_second, {}, {}, None)
    assert run_id == 1 and obs.dir == "runs/demo/1"
    assert obs.s3.get_object(Bucket=obs.bucket, Key="runs/demo/1/cout.txt")["Body"].read() == b""
    entry = read_json(obs, "runs/demo/1/run.json")
    assert (entry["start_time"], entry["heartbeat"]) == ("1999-05-04T03:02:01", None)
    obs.failed_event(T0, "went wrong\nbadly")
    entry = read_json(obs, "runs/demo/1/run.json")
    assert (entry["stop_time"], entry["fail_trace"]) == (T0.isoformat(), "went wrong\nbadly")
    assert obs.load_run(1).start_time == whole_second


@pytest.mark.service
def test_queued_run_has_sacreds_keys(obs: S3Observer, tmp_path: Path) -> None:
    run_id = obs.queued_event(ex_info(tmp_path), "main", HOST, T0, {"a": 1}, META, None)
    assert set(read_json(obs, f"runs/demo/{run_id}/run.json")) == {
        "experiment", "command", "host", "meta", "status",
    }  # fmt: skip
    assert obs.load_run(run_id).status == "QUEUED"


@pytest.mark.service
def test_requested_ids_and_existing_ids(obs: S3Observer, tmp_path: Path) -> None:
    assert drive(obs, tmp_path, _id="5") == "5"  # a given id comes back as given
    assert drive(obs, tmp_path) == 6  # one more than the largest listed id, an int as in Sacred
    with pytest.raises(RunIdExistsError) as info:
        drive(obs, tmp_path, _id="5")
    assert isinstance(info.value, FileExistsError)
    with pytest.raises(InvalidS3LocationError):
        drive(obs, tmp_path, _id="a/b")


@pytest.mark.service
def test_two_observers_interleaved_never_share_an_id(
    s3_endpoint: str, s3_bucket: str, tmp_path: Path
) -> None:
    # Each keeps a "next id" hint; the conditional create (412) moves the loser on.
    a = S3Observer(s3_bucket, "race", region="us-east-1", endpoint_url=s3_endpoint)
    b = S3Observer(s3_bucket, "race", region="us-east-1", endpoint_url=s3_endpoint)
    got = []
    for _ in range(5):
        got.append(a.started_event(ex_info(tmp_path), "main", HOST, T0, {}, {}, None))
        got.append(b.started_event(ex_info(tmp_path), "main", HOST, T0, {}, {}, None))
        got.append(b.started_event(ex_info(tmp_path), "main", HOST, T0, {}, {}, None))
    assert sorted(got) == list(range(1, 16))


@pytest.mark.service
def test_artifact_names_are_validated(obs: S3Observer, tmp_path: Path) -> None:
    drive(obs, tmp_path)
    path = tmp_path / "x.txt"
    path.write_text("v2")
    for bad in [
        "a/b.txt",
        "..",
        "",
        "run.json",
        "config.json",
        "cout.txt",
        "metrics.json",
        "info.json",
    ]:
        with pytest.raises(ArtifactNameError):
            obs.artifact_event(bad, str(path))
    obs.artifact_event("model.bin", str(path))  # saving a name again replaces it
    assert obs.load_run(1).artifacts == ["model.bin"]
    assert obs.load_artifact(1, "model.bin") == b"v2"


@pytest.mark.service
def test_bucket_is_created_when_missing_and_reused(
    obs: S3Observer, tmp_path: Path, s3_endpoint: str
) -> None:
    assert list(obs.list_runs()) == []  # reading a missing bucket finds no runs
    drive(obs, tmp_path)
    assert obs.bucket in [b["Name"] for b in obs.s3.list_buckets()["Buckets"]]
    again = S3Observer(obs.bucket, "runs/demo", region="us-east-1", endpoint_url=s3_endpoint)
    assert drive(again, tmp_path) == 2


@pytest.mark.service
def test_metrics_json_accumulates_across_calls(obs: S3Observer, tmp_path: Path) -> None:
    obs.started_event(ex_info(tmp_path), "main", HOST, T0, {}, {}, None)
    for step in range(3):
        obs.log_metrics({"m": {"steps": [step], "values": [step * 2], "timestamps": [T0]}}, {})
        assert read_json(obs, "runs/demo/1/metrics.json")["m"]["values"] == [
            2 * s for s in range(step + 1)
        ]


@pytest.mark.service
def test_no_secret_reaches_the_bucket(obs: S3Observer, tmp_path: Path) -> None:
    drive(obs, tmp_path)
    assert (
        obs.load_run(1).meta["options"]["--sql"] == "postgresql+psycopg://user:***@db.example/runs"
    )
    for key in keys(obs):
        assert (
            SECRET.encode() not in obs.s3.get_object(Bucket=obs.bucket, Key=key)["Body"].read()
        ), key


@pytest.mark.service
def test_from_uri_with_endpoint(s3_endpoint: str, s3_bucket: str, tmp_path: Path) -> None:
    obs = S3Observer.from_uri(f"s3://{s3_bucket}/a/b?endpoint_url={s3_endpoint}&region=us-east-1")
    assert (obs.bucket, obs.basedir, obs.region, obs.endpoint_url) == (
        s3_bucket,
        "a/b",
        "us-east-1",
        s3_endpoint,
    )
    assert drive(obs, tmp_path) == 1
    assert [k for k in keys(obs) if k.endswith("run.json")] == ["a/b/1/run.json"]


WRITER = textwrap.dedent(
    """
    import datetime as dt, json, os, sys, time
    from pytest_sacredx.observers.s3_observer import S3Observer
    endpoint, bucket, n, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    obs = S3Observer(bucket, "race", region="us-east-1", endpoint_url=endpoint)
    while not os.path.exists(go):
        time.sleep(0.005)
    ids = []
    ex = {"name": "race", "base_dir": "/nonexistent", "sources": [], "dependencies": []}
    for i in range(n):
        now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        ids.append(obs.started_event(ex, "main", {"hostname": "h", "pid": os.getpid()}, now,
                                     {"i": i}, {}, None))
        obs.completed_event(now, [os.getpid(), i])
    print(json.dumps(ids))
    """
)


@pytest.mark.slow
@pytest.mark.service
def test_two_processes_into_one_bucket_get_distinct_ids(
    s3_endpoint: str, s3_bucket: str, tmp_path: Path
) -> None:
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, s3_endpoint, s3_bucket, "100", str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    go.touch()
    ids: list[int] = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        ids.extend(json.loads(out))
    assert len(ids) == 200 and len(set(ids)) == 200
    reader = S3Observer(s3_bucket, "race", region="us-east-1", endpoint_url=s3_endpoint)
    records = list(reader.list_runs())
    assert sorted(r.id for r in records) == sorted(str(i) for i in ids)
    # every run.json belongs to the writer that claimed it: nobody overwrote anybody
    assert len({tuple(r.result) for r in records}) == 200
    assert all(r.status == "COMPLETED" and r.host["pid"] == r.result[0] for r in records)


# -- offline: validation and construction -------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("ab", "3 to 63"),
        ("a" * 64, "3 to 63"),
        ("My-Bucket", "lowercase"),
        ("under_score", "lowercase"),
        ("-start", "start and end"),
        ("end.", "start and end"),
        ("two..dots", "adjacent dots"),
        ("dot.-dash", "next to a hyphen"),
        ("192.168.1.10", "IP address"),
        ("xn--punycode", "reserved"),
        ("thing-s3alias", "reserved"),
    ],
)
def test_invalid_bucket_names_name_the_rule(name: str, rule: str) -> None:
    with pytest.raises(InvalidS3LocationError, match=rule) as info:
        validate_bucket_name(name)
    assert isinstance(info.value, ValueError) and isinstance(info.value, ObserverURIError)


@pytest.mark.parametrize("name", ["abc", "my-runs", "my.runs.2024", "a" * 63, "1-2-3"])
def test_valid_bucket_names(name: str) -> None:
    assert validate_bucket_name(name) == name


@pytest.mark.parametrize("prefix", ["/abs", "a/../b", "..", "a//b", "./a"])
def test_invalid_prefixes(prefix: str) -> None:
    with pytest.raises(InvalidS3LocationError):
        validate_prefix(prefix)


def test_valid_prefixes() -> None:
    assert validate_prefix("runs/demo/") == "runs/demo"
    assert validate_prefix("") == ""


def test_constructor_validates_before_touching_the_network() -> None:
    with pytest.raises(InvalidS3LocationError, match="lowercase"):
        S3Observer("Bad_Bucket", "runs", region="us-east-1")
    with pytest.raises(InvalidS3LocationError, match="must not start with '/'"):
        S3Observer("good-bucket", "/runs", region="us-east-1")


def test_region_comes_from_argument_or_boto3_config_else_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    empty = tmp_path / "aws-config"
    empty.write_text("")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty))
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with pytest.raises(InvalidS3LocationError, match="region") as info:
        S3Observer("good-bucket", "runs")
    assert isinstance(info.value, ValueError)
    assert S3Observer("good-bucket", "runs", region="eu-west-1").region == "eu-west-1"
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-south-1")
    assert S3Observer("good-bucket", "runs").region == "ap-south-1"


def test_from_uri_and_create_alias() -> None:
    obs = S3Observer.from_uri("s3://my-runs/x/y/?region=us-east-1&priority=5")
    assert (obs.bucket, obs.basedir, obs.priority, obs.store) == (
        "my-runs",
        "x/y",
        5,
        "s3://my-runs/x/y",
    )
    assert obs.resource_dir == "x/y/_resources" and obs.source_dir == "x/y/_sources"
    with pytest.raises(ObserverURIError, match="allowed"):
        S3Observer.from_uri("s3://my-runs/x?colour=red")
    with pytest.raises(ObserverURIError):
        S3Observer.from_uri("file:/tmp/x")
    with pytest.deprecated_call():
        alias = S3Observer.create("my-runs", "x/y", region="us-east-1")
    assert alias == obs and hash(alias) == hash(obs)
    assert S3Observer("my-runs", "other", region="us-east-1") != obs


def test_missing_boto3_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)
    with pytest.raises(MissingExtraError, match=r"pytest-sacredx\[s3\]"):
        S3Observer("my-runs", "x", region="us-east-1")
