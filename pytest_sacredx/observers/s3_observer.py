"""S3Observer: FileStorage's layout in an S3 bucket (AWS, MinIO, moto…), with a reader.

Inside ``s3://<bucket>/<basedir>/`` the keys are FileStorage's files: ``<id>/run.json``, ``config.json``,
``cout.txt``, ``info.json``, ``metrics.json`` and the artifacts, plus content-addressed
``_sources/<stem>_<md5><ext>`` and ``_resources/<stem>_<md5><ext>``. boto3 is imported only when an
observer is built; without it the constructor raises
:class:`~pytest_sacredx.errors.MissingExtraError` naming the ``s3`` extra.

Run ids are ``"1"``, ``"2"``… and unique under any number of concurrent writers without trusting a
listing: an id is claimed by creating its ``run.json`` with a conditional put (``If-None-Match: *``), which
S3 refuses with 412 when the key exists; the observer then tries the next id. The listing is only a
starting hint. (Emulators such as moto check that condition non-atomically, so the claim is also read
back and compared by ETag.)

>>> obs = S3Observer("my-runs", "experiments/demo", region="eu-west-1")  # doctest: +SKIP
>>> obs = S3Observer.from_uri("s3://my-runs/demo?endpoint_url=http://127.0.0.1:55000&region=us-east-1")  # doctest: +SKIP
>>> [r.id for r in obs.list_runs()]  # doctest: +SKIP
['1', '2']

The bucket is created on the first started or queued event when it does not exist.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import ipaddress
import json
import mimetypes
import os
import re
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from ..errors import ObserverURIError, RunIdExistsError, missing_extra, run_not_found
from . import document
from .base import RESERVED_ARTIFACT_NAMES, RunObserver, check_artifact_name, deprecated_create
from .record import RunRecord

__all__ = ["S3Observer", "InvalidS3LocationError", "validate_bucket_name", "validate_prefix"]

DEFAULT_S3_PRIORITY = 20
#: file names of a run folder that an artifact may not take
RESERVED_NAMES = RESERVED_ARTIFACT_NAMES
_BUCKET_CHARS = re.compile(r"^[a-z0-9.\-]+$")


class InvalidS3LocationError(ObserverURIError):
    """A bucket name, prefix, region or run id that S3 (or the store layout) does not accept."""


def validate_bucket_name(name: str) -> str:
    """Return ``name`` when it follows S3's bucket naming rules, else raise naming the rule broken.

    >>> validate_bucket_name("my-runs")
    'my-runs'
    >>> validate_bucket_name("My_Runs")
    Traceback (most recent call last):
    ...
    pytest_sacredx.observers.s3_observer.InvalidS3LocationError: Bucket name 'My_Runs' is invalid: only lowercase letters, digits, dots and hyphens are allowed
    """

    def bad(rule: str) -> InvalidS3LocationError:
        return InvalidS3LocationError(f"Bucket name {name!r} is invalid: {rule}")

    if not isinstance(name, str) or not 3 <= len(name) <= 63:
        raise bad("it must be 3 to 63 characters long")
    if not _BUCKET_CHARS.match(name):
        raise bad("only lowercase letters, digits, dots and hyphens are allowed")
    if not (name[0].isalnum() and name[-1].isalnum()):
        raise bad("it must start and end with a lowercase letter or a digit")
    if ".." in name:
        raise bad("it must not contain two adjacent dots")
    if ".-" in name or "-." in name:
        raise bad("a dot must not be next to a hyphen")
    try:
        ipaddress.IPv4Address(name)
    except ValueError:
        pass
    else:
        raise bad("it must not be formatted as an IP address")
    if name.startswith(("xn--", "sthree-")) or name.endswith(("-s3alias", "--ol-s3")):
        raise bad("prefixes 'xn--', 'sthree-' and suffixes '-s3alias', '--ol-s3' are reserved")
    return name


def validate_prefix(prefix: str) -> str:
    """Return the key prefix without surrounding slashes; reject ``..``/``.``/empty segments.

    >>> validate_prefix("runs/demo/")
    'runs/demo'
    """
    if not isinstance(prefix, str):
        raise InvalidS3LocationError(f"S3 prefix {prefix!r} must be a string")
    if prefix.startswith("/"):
        raise InvalidS3LocationError(
            f"S3 prefix {prefix!r} must not start with '/'; write {prefix.lstrip('/')!r}"
        )
    cleaned = prefix.rstrip("/")
    if cleaned:
        for segment in cleaned.split("/"):
            if segment in ("", ".", ".."):
                raise InvalidS3LocationError(
                    f"S3 prefix {prefix!r} has a {segment or 'empty'!r} segment; "
                    f"use plain folder names separated by single '/'"
                )
    return cleaned



def _dumps(obj: Any) -> bytes:
    # FileStorage's JSON style (sorted keys, indent 2), ASCII-escaped so that any str, even one with
    # lone surrogates from a file name, round-trips instead of failing to encode.
    return json.dumps(obj, sort_keys=True, indent=2).encode("ascii")


#: keys of the run document that live in their own files (FileStorage's layout)
_OWN_FILES = ("config", "info", "captured_out")


def _stored_name(path: str, md5: str) -> str:
    stem, ext = os.path.splitext(os.path.basename(path))
    return f"{stem}_{md5}{ext}"


def _error_code(error: Exception) -> str:
    response = getattr(error, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def _status(error: Exception) -> int:
    response = getattr(error, "response", None) or {}
    return int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)


class S3Observer(RunObserver):
    """Record runs in an S3 bucket in FileStorage's layout; also reads them back.

    ``region`` defaults to boto3's configured region (``AWS_DEFAULT_REGION``, ``~/.aws/config``);
    ``endpoint_url`` points at an S3-compatible server (MinIO, moto). Credentials come from boto3's usual
    chain and are never stored. ``client_config`` (a ``botocore.config.Config``) is merged over the
    default (8 attempts, standard retry mode), e.g. ``Config(connect_timeout=2, read_timeout=5,
    retries={"total_max_attempts": 1})`` to fail fast under a :class:`QueueObserver` that retries.

    >>> S3Observer("my-runs", "demo", region="us-east-1")  # doctest: +SKIP
    S3Observer('s3://my-runs/demo')
    """

    VERSION = "S3Observer-0.1.0"

    def __init__(
        self,
        bucket: str,
        basedir: str,
        resource_dir: str | None = None,
        source_dir: str | None = None,
        priority: int = DEFAULT_S3_PRIORITY,
        region: str | None = None,
        endpoint_url: str | None = None,
        client_config: Any = None,
    ) -> None:
        self.bucket = validate_bucket_name(bucket)
        self.basedir = validate_prefix(basedir)
        self.resource_dir = validate_prefix(
            resource_dir if resource_dir is not None else self._key("_resources")
        )
        self.source_dir = validate_prefix(
            source_dir if source_dir is not None else self._key("_sources")
        )
        self.priority = priority
        self.endpoint_url = endpoint_url
        try:
            import boto3
            from botocore.config import Config
        except ImportError as exc:
            raise missing_extra("s3", "boto3") from exc
        self.region = region or boto3.session.Session().region_name
        if not self.region:
            raise InvalidS3LocationError(
                "No AWS region for the S3Observer: pass region='eu-west-1' (or ?region= in the URI), "
                "or set AWS_DEFAULT_REGION / a region in ~/.aws/config"
            )
        config = Config(retries={"max_attempts": 8, "mode": "standard"})
        if client_config is not None:
            config = config.merge(client_config)
        self.s3 = boto3.client(
            "s3", region_name=self.region, endpoint_url=endpoint_url, config=config
        )
        self._lock = threading.RLock()
        self._bucket_ready = False
        self._next_id: int | None = None
        self._stored_sources: set[str] = set()
        self._reset_run()

    @classmethod
    def create(cls, *args: Any, **kwargs: Any) -> S3Observer:
        """Deprecated alias of ``S3Observer(...)`` (as in Sacred)."""
        return deprecated_create(cls, *args, **kwargs)

    @classmethod
    def from_uri(cls, uri: str, **kwargs: Any) -> S3Observer:
        """Build from ``s3://bucket/prefix?region=…&endpoint_url=…&resource_dir=…&source_dir=…``.

        >>> S3Observer.from_uri("s3://my-runs/demo?region=us-east-1").basedir  # doctest: +SKIP
        'demo'
        """
        parts = urlsplit(uri)
        if parts.scheme != "s3" or not parts.netloc:
            raise ObserverURIError(
                f"S3 observer URI {uri!r} must look like s3://bucket/prefix?region=us-east-1"
            )
        allowed = {"region", "endpoint_url", "resource_dir", "source_dir", "priority"}
        options: dict[str, Any] = {}
        for key, value in parse_qsl(parts.query, keep_blank_values=True):
            if key not in allowed:
                raise ObserverURIError(
                    f"Unknown S3 observer URI parameter {key!r} in {uri!r}; "
                    f"allowed: {', '.join(sorted(allowed))}"
                )
            options[key] = int(value) if key == "priority" else value
        options.update(kwargs)
        return cls(bucket=parts.netloc, basedir=parts.path.lstrip("/"), **options)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, S3Observer):
            return NotImplemented
        return (self.bucket, self.basedir) == (other.bucket, other.basedir)

    def __hash__(self) -> int:
        return hash((S3Observer, self.bucket, self.basedir))

    def __repr__(self) -> str:
        return f"S3Observer({self.store!r})"

    @property
    def store(self) -> str:
        """This store as a URI: ``s3://bucket/basedir``."""
        return f"s3://{self.bucket}/{self.basedir}"

    # -- keys and low-level S3 --------------------------------------------------------------------

    def _key(self, *parts: str) -> str:
        return "/".join(p for p in (self.basedir, *parts) if p)

    def _put(self, key: str, body: bytes, **extra: Any) -> dict[str, Any]:
        return self.s3.put_object(Bucket=self.bucket, Key=key, Body=body, **extra)  # type: ignore[no-any-return]

    def _put_new(self, key: str, body: bytes, **extra: Any) -> str | None:
        """Create ``key`` only if it does not exist; its ETag, or None when it exists already."""
        try:
            response = self._put(key, body, IfNoneMatch="*", **extra)
        except Exception as error:
            if _status(error) in (409, 412) or _error_code(error) in (
                "PreconditionFailed",
                "ConditionalRequestConflict",
            ):
                return None
            raise
        return str(response.get("ETag", ""))

    def _get(self, key: str) -> bytes | None:
        try:
            return self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()  # type: ignore[no-any-return]
        except Exception as error:
            if _error_code(error) in ("NoSuchKey", "404", "NoSuchBucket") or _status(error) == 404:
                return None
            raise

    def _get_json(self, key: str) -> Any:
        data = self._get(key)
        return None if data is None else json.loads(data)

    def _ensure_bucket(self) -> None:
        if self._bucket_ready:
            return
        try:
            self.s3.head_bucket(Bucket=self.bucket)
        except Exception as error:
            if _status(error) != 404 and _error_code(error) not in ("404", "NoSuchBucket"):
                raise
            kwargs: dict[str, Any] = {"Bucket": self.bucket}
            if self.region != "us-east-1":
                kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
            try:
                self.s3.create_bucket(**kwargs)
            except Exception as create_error:
                # Another writer created it first: that is what we wanted.
                if _error_code(create_error) not in (
                    "BucketAlreadyOwnedByYou",
                    "BucketAlreadyExists",
                ):
                    raise
        self._bucket_ready = True

    def _run_ids(self) -> list[str]:
        """The run folders under basedir (every child prefix except ``_sources``/``_resources``)."""
        prefix = f"{self.basedir}/" if self.basedir else ""
        names: list[str] = []
        paginator = self.s3.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix, Delimiter="/"):
                for common in page.get("CommonPrefixes", []):
                    name = common["Prefix"][len(prefix) :].rstrip("/")
                    if name and not name.startswith("_"):
                        names.append(name)
        except Exception as error:
            if _error_code(error) == "NoSuchBucket" or _status(error) == 404:
                return []
            raise
        return names

    def _max_numeric_id(self) -> int:
        return max((int(n) for n in self._run_ids() if n.isdigit()), default=0)

    # -- run state --------------------------------------------------------------------------------

    def _reset_run(self) -> None:
        self.run_id: str | None = None
        #: the current run's key prefix (``<basedir>/<id>``), as Sacred's ``dir``; None before a run
        self.dir: str | None = None
        self.run_entry: dict[str, Any] = {}
        self.metrics: dict[str, dict[str, list[Any]]] = {}
        self._last_out: str | None = None
        self._last_info: bytes | None = None

    def _run_key(self, name: str) -> str:
        assert self.run_id is not None
        return self._key(self.run_id, document.utf8_text(name))  # S3 keys are UTF-8 text

    def _save_run_json(self) -> None:
        self._put(self._run_key("run.json"), _dumps(self.run_entry), ContentType="application/json")

    def _save_run_json_with(self, key: str, value: Any) -> None:
        """Save run.json with ``run_entry[key] = value``, keeping the change only once it is stored."""
        entry = {**self.run_entry, key: value}
        self._put(self._run_key("run.json"), _dumps(entry), ContentType="application/json")
        self.run_entry = entry

    def _claim(self, body: bytes, _id: Any) -> str:
        """Create ``<id>/run.json`` atomically and return the id it got."""
        if _id is not None:
            run_id = str(_id)
            if run_id in ("", ".", "..") or "/" in run_id or run_id.startswith("_"):
                raise InvalidS3LocationError(
                    f"Run id {run_id!r} cannot name a run folder; use digits or a plain name"
                )
            listing = self.s3.list_objects_v2(
                Bucket=self.bucket, Prefix=self._key(run_id) + "/", MaxKeys=1
            )
            if (
                listing.get("KeyCount", 0)
                or self._put_new(self._key(run_id, "run.json"), body) is None
            ):
                raise RunIdExistsError(
                    f"Run id {run_id!r} already exists in {self.store}; pass another _id or none "
                    f"to get the next free one"
                )
            return run_id
        candidate = self._next_id if self._next_id is not None else self._max_numeric_id() + 1
        relisted = self._next_id is None
        for _ in range(100_000):
            key = self._key(str(candidate), "run.json")
            etag = self._put_new(key, body, ContentType="application/json")
            if etag is not None and self._still_ours(key, etag):
                self._next_id = candidate + 1
                return str(candidate)
            if not relisted:
                # Our hint is stale (another writer went ahead): jump past everything listed.
                candidate = max(candidate + 1, self._max_numeric_id() + 1)
                relisted = True
            else:
                candidate += 1
        raise RuntimeError(f"could not allocate a run id in {self.store}")  # pragma: no cover

    def _still_ours(self, key: str, etag: str) -> bool:
        # Real S3 makes the conditional put atomic; emulators may not, so confirm nobody overwrote us.
        try:
            head = self.s3.head_object(Bucket=self.bucket, Key=key)
        except Exception:
            return False
        return not etag or head.get("ETag") == etag

    def _store_sources(self, ex_info: dict[str, Any]) -> list[list[str]]:
        base_dir = ex_info.get("base_dir") or ""
        stored = []
        for entry in ex_info.get("sources", []):
            name, md5 = str(entry[0]), str(entry[1])
            key = (
                f"{self.source_dir}/{_stored_name(name, md5)}"
                if self.source_dir
                else _stored_name(name, md5)
            )
            if key not in self._stored_sources:
                path = name if os.path.isabs(name) else os.path.join(base_dir, name)
                try:
                    with open(path, "rb") as fh:
                        self._put_new(key, fh.read())
                    self._stored_sources.add(key)
                except OSError:
                    pass  # the source moved since discovery: keep its name and md5 in run.json
            stored.append([name, self._relative(key)])
        return stored

    def _relative(self, key: str) -> str:
        prefix = f"{self.basedir}/" if self.basedir else ""
        return key[len(prefix) :] if prefix and key.startswith(prefix) else key

    # -- events -----------------------------------------------------------------------------------

    def _start(self, doc: dict[str, Any], _id: Any, ex_info: dict[str, Any]) -> Any:
        """Claim the run's folder and write its first files; the id as Sacred returns it: an ``int``
        when the observer numbered the run, the given ``_id`` otherwise."""
        with self._lock:
            self._ensure_bucket()
            self._reset_run()
            doc["experiment"] = {**doc["experiment"], "sources": self._store_sources(ex_info)}
            entry = {k: v for k, v in doc.items() if k not in _OWN_FILES}
            self.run_id = self._claim(_dumps(entry), _id)
            self.dir = self._key(self.run_id)
            self.run_entry = entry
            self._put(self._run_key("config.json"), _dumps(doc["config"]))
            if doc["status"] == "RUNNING":  # as Sacred: cout.txt exists (empty) from the start
                self._put(self._run_key("cout.txt"), b"")
                self._last_out = ""
            return int(self.run_id) if _id is None else _id

    def started_event(
        self,
        ex_info: dict[str, Any],
        command: str,
        host_info: dict[str, Any],
        start_time: _dt.datetime,
        config: dict[str, Any],
        meta_info: dict[str, Any],
        _id: Any,
    ) -> Any:
        doc = document.started(
            ex_info, command, host_info, start_time, config, meta_info, iso_times=True
        )
        return self._start(doc, _id, ex_info)

    def queued_event(
        self,
        ex_info: dict[str, Any],
        command: str,
        host_info: dict[str, Any],
        queue_time: _dt.datetime,
        config: dict[str, Any],
        meta_info: dict[str, Any],
        _id: Any,
    ) -> Any:
        doc = document.queued(ex_info, command, host_info, queue_time, config, meta_info)
        return self._start(doc, _id, ex_info)

    def heartbeat_event(
        self, info: dict[str, Any], captured_out: str, beat_time: _dt.datetime, result: Any
    ) -> None:
        fields = document.heartbeat(info, captured_out, beat_time, result, iso_times=True)
        with self._lock:
            if self.run_id is None:
                return
            if fields["info"]:
                data = _dumps(fields["info"])
                if data != self._last_info:
                    self._put(self._run_key("info.json"), data, ContentType="application/json")
                    self._last_info = data
            out = fields["captured_out"]
            if out != self._last_out:
                # S3 cannot append; captured_out is the whole output so far, so rewrite it. Text that
                # is not UTF-8 (lone surrogates from os.fsdecode) is written as the bytes it came from.
                self._put(self._run_key("cout.txt"), out.encode("utf-8", "surrogateescape"))
                self._last_out = out
            self.run_entry["heartbeat"] = fields["heartbeat"]
            self.run_entry["result"] = fields["result"]
            self._save_run_json()

    def _finish(self, fields: dict[str, Any]) -> None:
        with self._lock:
            if self.run_id is None:
                return
            self.run_entry.update(fields)
            self._save_run_json()

    def completed_event(self, stop_time: _dt.datetime, result: Any) -> None:
        self._finish(document.completed(stop_time, result, iso_times=True))

    def interrupted_event(self, interrupt_time: _dt.datetime, status: str) -> None:
        self._finish(document.interrupted(interrupt_time, status, iso_times=True))

    def failed_event(self, fail_time: _dt.datetime, fail_trace: list[str] | str) -> None:
        self._finish(document.failed(fail_time, fail_trace, iso_times=True))

    def resource_event(self, filename: str) -> None:
        with open(filename, "rb") as fh:
            data = fh.read()
        md5 = hashlib.md5(data).hexdigest()
        key = "/".join(p for p in (self.resource_dir, _stored_name(filename, md5)) if p)
        with self._lock:
            if self.run_id is None:
                return
            self._put_new(key, data)  # content-addressed: an existing key already holds these bytes
            entry = [filename, key]  # as Sacred: the stored copy's whole key
            resources = self.run_entry.setdefault("resources", [])
            if entry not in resources:
                self._save_run_json_with("resources", [*resources, entry])

    def artifact_event(
        self,
        name: str,
        filename: str,
        metadata: dict[str, Any] | None = None,
        content_type: str | None = None,
    ) -> None:
        check_artifact_name(name)
        content_type = content_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
        with self._lock:
            if self.run_id is None:
                return
            with open(filename, "rb") as fh:
                self._put(self._run_key(name), fh.read(), ContentType=content_type)
            artifacts = self.run_entry.setdefault("artifacts", [])
            if name not in artifacts:
                artifacts.append(name)
            self._save_run_json()

    def log_metrics(self, metrics_by_name: dict[str, dict[str, Any]], info: dict[str, Any]) -> None:
        with self._lock:
            if self.run_id is None:
                return
            # Build the new series aside and keep them only once stored: a failed put that is
            # retried (QueueObserver) must not add the same values twice.
            merged = {name: {k: list(v) for k, v in series.items()}
                      for name, series in self.metrics.items()}
            for name, part in document.metrics_delta(metrics_by_name, iso_times=True).items():
                stored = merged.setdefault(name, {"steps": [], "values": [], "timestamps": []})
                for key in ("steps", "values", "timestamps"):
                    stored[key].extend(part[key])
            self._put(
                self._run_key("metrics.json"), _dumps(merged), ContentType="application/json"
            )
            self.metrics = merged

    # -- reading ----------------------------------------------------------------------------------

    def list_runs(self) -> Iterator[RunRecord]:
        """All runs, oldest (smallest numeric id) first."""
        ids = sorted(
            self._run_ids(), key=lambda n: (not n.isdigit(), int(n) if n.isdigit() else 0, n)
        )
        for run_id in ids:
            try:
                yield self.load_run(run_id)
            except KeyError:
                continue  # a folder without run.json (an id being claimed, or leftovers)

    def load_run(self, run_id: Any) -> RunRecord:
        """One run by id (``1`` or ``"1"``); ``KeyError`` when there is none."""
        rid = str(run_id)
        if "/" in rid or rid in ("", ".", ".."):
            raise run_not_found(run_id, self.store)
        entry = self._get_json(self._key(rid, "run.json"))
        if not isinstance(entry, dict):
            raise run_not_found(run_id, self.store)
        metrics = self._get_json(self._key(rid, "metrics.json")) or {}
        cout = self._get(self._key(rid, "cout.txt"))
        return document.to_record(
            entry,
            store=self.store,
            id=rid,
            config=self._get_json(self._key(rid, "config.json")) or {},
            info=self._get_json(self._key(rid, "info.json")) or {},
            captured_out=cout.decode("utf-8", errors="surrogateescape") if cout is not None else "",
            metrics=metrics,
        )

    def load_artifact(self, run_id: Any, name: str) -> bytes:
        """The bytes of one artifact; ``KeyError`` when there is none."""
        check_artifact_name(name)
        data = self._get(self._key(str(run_id), document.utf8_text(name)))
        if data is None:
            raise run_not_found(run_id, self.store, f"artifact {name!r}")
        return data
