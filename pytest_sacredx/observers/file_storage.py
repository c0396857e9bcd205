"""FileStorageObserver: Sacred's on-disk run layout (``<basedir>/<id>/run.json`` …), written crash-safely.

The layout and the key sets of ``run.json`` at each stage are Sacred's (``VERSION =
"FileStorageObserver-0.7.0"``), so tools that read Sacred run folders read ours. What we do differently,
and why:

- **Run ids never race.** The directory is listed once, then ids are claimed with ``os.mkdir`` (atomic and
  exclusive) in an increment-only loop without a retry cap, so any number of processes starting runs in
  one folder each get a distinct id (Sacred's listdir-then-mkdir ran out of retries, issues #283/#473).
- **No half-written files.** Every JSON file is written to a temporary file in the same directory and
  renamed over the target; a SIGKILL at any moment leaves the previous or the next valid version. The
  exception proves the rule: ``config.json``, the empty ``cout.txt`` and ``metrics.json`` (``{}``) are
  written in place *before* the first ``run.json``, while the folder is not a run to any reader yet (a
  folder without ``run.json`` is never listed), which saves a rename each. (Sacred writes that
  ``metrics.json`` on the first beat, seconds later; once a run has beaten the folders are the same.)
- **Output and metrics scale.** ``cout.txt`` is appended with only the new part of the captured output
  (rewritten atomically only when the output filter changed earlier text). Metrics are kept in memory for
  the run and appended to ``metrics.jsonl`` (one line per ``log_metrics``; a torn last line is ignored);
  the Sacred-shaped ``metrics.json`` is rewritten while the series is small, then only when it grew by a
  quarter (so rewriting stays linear over a long run), and always on the final event. Sacred re-read and
  rewrote ``metrics.json`` on every beat (quadratic, issue #383).
- **Values** go through :func:`~pytest_sacredx.serialize.to_jsonable` (no ``py/object`` noise; tuples
  become lists, NumPy arrays lists, unknown objects their ``repr``); a value can never crash the observer.
- **Artifacts** may not be named like the observer's own files (``run.json``, ``config.json``,
  ``cout.txt``, ``metrics.json``, ``metrics.jsonl``, ``info.json``) nor contain a path separator
  (:class:`~pytest_sacredx.errors.ArtifactNameError`); **sources** of queued runs are stored like those
  of started runs (Sacred resolved them against the working directory); **resources** are stored by
  content (``_resources/<stem>_<md5><ext>``, de-duplicated) and recorded, as in Sacred, as
  ``[filename, <resource_dir>/<stored name>]``.
- **Times** in ``run.json`` and ``metrics.json`` are ``isoformat`` text, as Sacred writes them.

>>> import datetime as dt, tempfile
>>> obs = FileStorageObserver(tempfile.mkdtemp() + "/runs")
>>> now = dt.datetime(2024, 5, 1, 12, 0)
>>> ex_info = {"name": "demo", "base_dir": "/", "sources": [], "dependencies": []}
>>> obs.started_event(ex_info, "main", {"hostname": "h"}, now, {"lr": 0.1}, {}, None)
'1'
>>> obs.heartbeat_event({}, "hello\\n", now, None)
>>> obs.completed_event(now, 0.93)
>>> rec = obs.load_run("1")
>>> rec.status, rec.result, rec.captured_out, rec.config
('COMPLETED', 0.93, 'hello\\n', {'lr': 0.1})
"""

from __future__ import annotations

import datetime as _dt
import functools
import itertools
import os
import shutil
import stat
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from ..errors import RunIdExistsError, StoreFormatError, run_not_found
from ..fast_json import loads as json_loads
from . import document
from .atomic import (
    copy_atomic,
    file_md5,
    json_file_bytes,
    write_bytes_atomic,
    write_bytes_new,
    write_json_atomic,
)
from .base import RESERVED_ARTIFACT_NAMES, RunObserver, check_artifact_name, deprecated_create
from .lazy_record import FINAL_METRICS, NOT_PEEKED, LazyRunRecord, gc_paused
from .record import RunRecord, RunTail
from .tinydb_finals import SORTED_ORDER, skim_series_map

__all__ = ["FileStorageObserver", "FileStorageReader", "RESERVED_NAMES"]

#: files the observer writes into a run directory; artifacts may not take these names
RESERVED_NAMES = RESERVED_ARTIFACT_NAMES
#: below this many points metrics.json is rewritten on every log_metrics call
_SMALL_SERIES = 1000

_F = TypeVar("_F", bound=Callable[..., Any])


def _serialized(method: _F) -> _F:
    """Run an event under the observer's lock: the heartbeat thread and the run's thread both send events."""

    @functools.wraps(method)
    def wrapper(self: FileStorageObserver, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            return method(self, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


#: keys of the run document that FileStorage keeps in their own files (config.json, info.json, cout.txt)
_OWN_FILES = ("config", "info", "captured_out")


class FileStorageObserver(RunObserver):
    """Store each run in ``<basedir>/<id>/`` in Sacred's layout; also reads the runs back.

    >>> obs = FileStorageObserver("my_runs")  # nothing is created until the first run starts
    >>> obs == FileStorageObserver("my_runs")
    True
    """

    VERSION = "FileStorageObserver-0.7.0"

    @classmethod
    def create(cls, *args: Any, **kwargs: Any) -> FileStorageObserver:
        """Deprecated alias of the constructor (as in Sacred)."""
        return deprecated_create(cls, *args, **kwargs)

    @classmethod
    def create_from(cls, *args: Any, **kwargs: Any) -> FileStorageObserver:
        """Same as the constructor (kept for Sacred compatibility)."""
        return cls(*args, **kwargs)

    def __init__(
        self,
        basedir: str | os.PathLike[str],
        resource_dir: str | os.PathLike[str] | None = None,
        source_dir: str | os.PathLike[str] | None = None,
        template: str | os.PathLike[str] | None = None,
        priority: int = 20,
        copy_artifacts: bool = True,
        copy_sources: bool = True,
    ) -> None:
        self.basedir = os.fspath(basedir)
        self.resource_dir = (
            os.fspath(resource_dir) if resource_dir else os.path.join(self.basedir, "_resources")
        )
        self.source_dir = (
            os.fspath(source_dir) if source_dir else os.path.join(self.basedir, "_sources")
        )
        self.template = os.fspath(template) if template else None
        self.priority = priority
        self.copy_artifacts = copy_artifacts
        self.copy_sources = copy_sources
        # per-run state, named as in Sacred where Sacred had it (subclasses use these)
        self.dir: str | None = None
        self.run_entry: dict[str, Any] | None = None
        self.config: dict[str, Any] | None = None
        self.info: dict[str, Any] | None = None
        self.cout = ""
        self._cout_made = False  # this run's cout.txt was created by us
        self._metrics: dict[str, dict[str, list[Any]]] = {}
        self._points = 0
        self._points_in_json = -1  # -1: metrics.json not written yet
        # process-wide state
        self._next_id: int | None = None
        self._stored: dict[tuple[str, str, int, int], str] = {}
        self._lock = threading.RLock()

    # -- equality (Sacred: two observers are equal if their basedir is) -------------------------------

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FileStorageObserver):
            return os.path.abspath(self.basedir) == os.path.abspath(other.basedir)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(os.path.abspath(self.basedir))

    def __repr__(self) -> str:
        return f"FileStorageObserver({self.basedir!r})"

    # -- run directories ------------------------------------------------------------------------------

    def _max_numeric_id(self) -> int:
        # streamed (scandir, not listdir): a writer's memory stays flat however many runs the folder has
        with os.scandir(self.basedir) as entries:
            return max(
                (int(e.name) for e in entries if e.name.isascii() and e.name.isdigit()), default=0
            )

    def _make_run_dir(self, _id: Any) -> str:
        """Claim a run directory with an exclusive ``mkdir``; return its name (the run id)."""
        if self._next_id is None:
            os.makedirs(self.basedir, exist_ok=True)
        if _id is not None:
            name = str(_id)
            try:
                os.mkdir(os.path.join(self.basedir, name))
            except FileExistsError:
                raise RunIdExistsError(
                    f"Run id {name!r} already exists in file:{self.basedir}; pass no _id to get a fresh "
                    "one, or choose another."
                ) from None
            return name
        # List at most once per id: start after our last id (no listing) or after the largest on disk.
        listed = self._next_id is None
        candidate = self._max_numeric_id() + 1 if listed else self._next_id
        assert candidate is not None
        while True:
            try:
                os.mkdir(os.path.join(self.basedir, str(candidate)))
            except FileExistsError:
                if not listed:
                    candidate = max(candidate + 1, self._max_numeric_id() + 1)
                    listed = True
                else:
                    candidate += 1
                continue
            self._next_id = candidate + 1
            return str(candidate)

    def _reset_run_state(self, run_dir: str, config: dict[str, Any]) -> None:
        self.dir = run_dir
        self.config = config
        self.info = {}
        self.cout = ""
        self._cout_made = False
        self._metrics = {}
        self._points = 0
        self._points_in_json = -1

    # -- content-addressed storage --------------------------------------------------------------------

    def _find_or_save(self, filename: str, store_dir: str) -> str:
        """Store a file as ``<store_dir>/<stem>_<md5><ext>`` unless it is there already; return the path."""
        st = os.stat(filename)
        key = (store_dir, os.path.abspath(filename), st.st_mtime_ns, st.st_size)
        stored = self._stored.get(key)
        if stored is not None and os.path.exists(stored):
            return stored
        stem, ext = os.path.splitext(os.path.basename(filename))
        stored = os.path.join(store_dir, f"{stem}_{file_md5(filename)}{ext}")
        if not os.path.exists(stored):
            os.makedirs(store_dir, exist_ok=True)
            copy_atomic(filename, stored)
        self._stored[key] = stored
        return stored

    def _rel(self, path: str) -> str:
        return os.path.relpath(path, self.basedir)

    def _save_sources(self, ex_info: dict[str, Any]) -> dict[str, Any]:
        ex_info = dict(ex_info)
        base_dir = ex_info.get("base_dir") or ""
        entries = []
        for source in ex_info.get("sources", []):
            rel = source[0]
            path = os.path.join(base_dir, rel)
            if not self.copy_sources:
                entries.append([rel, self._rel(os.path.abspath(path))])
            elif os.path.isfile(path):
                entries.append([rel, self._rel(self._find_or_save(path, self.source_dir))])
            else:  # a source that vanished: keep the run, say where it was not found
                entries.append([rel, None])
        ex_info["sources"] = entries
        return ex_info

    # -- writing --------------------------------------------------------------------------------------

    def _path(self, name: str) -> str:
        if self.dir is None:
            raise RuntimeError(
                "FileStorageObserver got a run event before started_event/queued_event"
            )
        return os.path.join(self.dir, name)

    def save_json(self, obj: Any, filename: str) -> None:
        """Write ``obj`` (in the run document's JSON form) into the run directory, atomically."""
        write_json_atomic(self._path(filename), document.encode(obj))

    def _save_run(self) -> None:
        # run_entry holds converted values only (every event converts what it adds), so no second pass
        write_json_atomic(self._path("run.json"), self.run_entry)

    def _save_cout(self, captured_out: str) -> None:
        captured_out = captured_out or ""
        path = self._path("cout.txt")
        if captured_out.startswith(self.cout) and (self.cout == "" or os.path.exists(path)):
            new = captured_out[len(self.cout) :]
            if new or not (self._cout_made or os.path.exists(path)):
                with open(path, "ab") as fh:
                    fh.write(document.utf8_bytes(new))
                self._cout_made = True
        else:  # the output filter rewrote earlier text (e.g. a progress bar's \r): replace the file
            write_bytes_atomic(path, document.utf8_bytes(captured_out))
        self.cout = captured_out

    def _save_metrics_json(self, force: bool = False) -> None:
        if self._points_in_json == self._points and not force:
            return
        # Already converted in log_metrics; compact, so the C encoder does it (indenting a long series
        # in pure Python cost more than logging it).
        data = document.json_bytes(self._metrics, sort_keys=True, separators=(",", ":"))
        write_bytes_atomic(self._path("metrics.json"), data)
        self._points_in_json = self._points

    def _finish(self) -> None:
        self._save_run()
        if self._points_in_json >= 0:
            self._save_metrics_json()
        self._render_template()

    # -- events ---------------------------------------------------------------------------------------

    @_serialized
    def queued_event(
        self,
        ex_info: dict[str, Any],
        command: str,
        host_info: dict[str, Any],
        queue_time: _dt.datetime,
        config: dict[str, Any],
        meta_info: dict[str, Any],
        _id: Any,
    ) -> str:
        doc = document.queued(ex_info, command, host_info, queue_time, config, meta_info)
        return self._begin(doc, _id)

    @_serialized
    def started_event(
        self,
        ex_info: dict[str, Any],
        command: str,
        host_info: dict[str, Any],
        start_time: _dt.datetime,
        config: dict[str, Any],
        meta_info: dict[str, Any],
        _id: Any,
    ) -> str:
        doc = document.started(ex_info, command, host_info, start_time, config, meta_info, iso_times=True)
        return self._begin(doc, _id, started=True)

    def _begin(self, doc: dict[str, Any], _id: Any, started: bool = False) -> str:
        name = self._make_run_dir(_id)
        try:
            self._reset_run_state(os.path.join(self.basedir, name), doc["config"])
            doc["experiment"] = self._save_sources(doc["experiment"])
            self.run_entry = {k: v for k, v in doc.items() if k not in _OWN_FILES}
            # In place: no reader looks into the folder before run.json exists.
            write_bytes_new(self._path("config.json"), json_file_bytes(self.config))
            if started:  # as Sacred: cout.txt exists (empty) from the start, metrics.json ({}) too
                write_bytes_new(self._path("cout.txt"), b"")
                self._cout_made = True
                write_bytes_new(self._path("metrics.json"), b"{}")
                self._points_in_json = 0
            self._save_run()
        except BaseException:
            # A start that failed leaves no run folder behind (an empty one would read as a run).
            shutil.rmtree(os.path.join(self.basedir, name), ignore_errors=True)
            self.run_entry = None
            raise
        return name

    @_serialized
    def heartbeat_event(
        self, info: dict[str, Any], captured_out: str, beat_time: _dt.datetime, result: Any
    ) -> None:
        self._beat(info, captured_out, beat_time, result)
        self._save_run()

    @_serialized
    def final_heartbeat_event(
        self, info: dict[str, Any], captured_out: str, beat_time: _dt.datetime, result: Any
    ) -> None:
        """The last beat of a run: the terminal event follows at once and writes run.json."""
        self._beat(info, captured_out, beat_time, result)

    def _beat(self, info: dict[str, Any], captured_out: str, beat_time: _dt.datetime, result: Any) -> None:
        assert self.run_entry is not None
        fields = document.heartbeat(info, captured_out, beat_time, result, iso_times=True)
        self.info = fields["info"]
        self.run_entry["heartbeat"] = fields["heartbeat"]
        self.run_entry["result"] = fields["result"]
        self._save_cout(fields["captured_out"])
        if self.info:
            write_json_atomic(self._path("info.json"), self.info)
        if self._points_in_json < 0:  # as Sacred: every started run has a metrics.json, {} at least
            self._save_metrics_json()

    def _end(self, fields: dict[str, Any]) -> None:
        assert self.run_entry is not None
        self.run_entry.update(fields)
        self._finish()

    @_serialized
    def completed_event(self, stop_time: _dt.datetime, result: Any) -> None:
        self._end(document.completed(stop_time, result, iso_times=True))

    @_serialized
    def interrupted_event(self, interrupt_time: _dt.datetime, status: str) -> None:
        self._end(document.interrupted(interrupt_time, status, iso_times=True))

    @_serialized
    def failed_event(self, fail_time: _dt.datetime, fail_trace: list[str] | str) -> None:
        self._end(document.failed(fail_time, fail_trace, iso_times=True))

    @_serialized
    def resource_event(self, filename: str) -> None:
        assert self.run_entry is not None
        filename = os.path.abspath(os.fspath(filename))
        inside = os.path.commonpath([filename, os.path.abspath(self.basedir)]) == os.path.abspath(
            self.basedir
        )
        stored = (
            filename
            if (inside and not self.copy_artifacts)
            else self._find_or_save(filename, self.resource_dir)
        )
        entry = [filename, stored]
        resources = self.run_entry.setdefault("resources", [])
        if entry not in resources:
            resources.append(entry)
            self._save_run()

    @_serialized
    def save_file(self, filename: str | os.PathLike[str], target_name: str | None = None) -> None:
        """Copy ``filename`` into the run's folder as ``target_name`` (its own name by default).

        A name taken by the run's own records (``cout.txt``, ``run.json``…) raises
        :class:`~pytest_sacredx.errors.ReservedArtifactNameError`, a ``FileExistsError`` as in Sacred.
        """
        name = check_artifact_name(target_name or os.path.basename(os.fspath(filename)))
        target = self._path(name)
        if os.path.abspath(os.fspath(filename)) != os.path.abspath(target):
            copy_atomic(os.fspath(filename), target)

    @_serialized
    def artifact_event(
        self,
        name: str,
        filename: str,
        metadata: dict[str, Any] | None = None,
        content_type: str | None = None,
    ) -> None:
        assert self.run_entry is not None
        check_artifact_name(name)
        if self.copy_artifacts:
            copy_atomic(filename, self._path(name))
        artifacts = self.run_entry.setdefault("artifacts", [])
        if name not in artifacts:
            artifacts.append(name)
        self._save_run()

    @_serialized
    def log_metrics(self, metrics_by_name: dict[str, dict[str, Any]], info: dict[str, Any]) -> None:
        delta = document.metrics_delta(metrics_by_name, iso_times=True)
        for name, part in delta.items():
            stored = self._metrics.setdefault(name, {"steps": [], "values": [], "timestamps": []})
            for key, items in part.items():
                stored[key].extend(items)
            self._points += len(part["values"])
        if not delta:
            if self._points_in_json < 0:
                self._save_metrics_json()  # as Sacred: metrics.json exists ({}) once metrics flowed
            return
        encoded = document.json_bytes(delta, sort_keys=True, separators=(",", ":"))
        with open(self._path("metrics.jsonl"), "ab") as fh:
            fh.write(encoded + b"\n")
        # Sacred writes metrics.json (even as {}) on every beat; we rewrite it while it is small and
        # then only when it grew by a quarter, so a long run costs linear, not quadratic, I/O.
        if (
            self._points_in_json < 0
            or self._points <= _SMALL_SERIES
            or self._points >= 1.25 * self._points_in_json
        ):
            # All points so far came in this one delta: metrics.json holds exactly the same text.
            first = all(len(part["values"]) == len(self._metrics[n]["values"]) for n, part in delta.items())
            if first and len(delta) == len(self._metrics):
                write_bytes_atomic(self._path("metrics.json"), encoded)
                self._points_in_json = self._points
            else:
                self._save_metrics_json()

    # -- optional report ------------------------------------------------------------------------------

    def _render_template(self) -> None:
        template = self.template
        if template is None:
            default = os.path.join(self.basedir, "template.html")
            template = default if os.path.exists(default) else None
        if template is None:
            return
        try:
            from mako.template import Template  # optional, as in Sacred
        except ImportError:
            warnings.warn(
                f"FileStorageObserver: template {template!r} needs mako (pip install mako); "
                "no report written.",
                stacklevel=2,
            )
            return
        ext = os.path.splitext(template)[1]
        text = Template(filename=template).render(
            run=self.run_entry, config=self.config, info=self.info, cout=self.cout, savedir=self.dir
        )
        write_bytes_atomic(self._path(f"report{ext}"), str(text).encode("utf-8"))

    # -- reading back ---------------------------------------------------------------------------------

    def list_runs(self) -> Iterator[RunRecord]:
        """All runs under ``basedir``: numeric ids in order, then other names alphabetically."""
        return FileStorageReader(self.basedir).list_runs()

    def load_run(self, run_id: Any) -> RunRecord:
        """The run stored under ``<basedir>/<run_id>``; ``KeyError`` when there is none."""
        return FileStorageReader(self.basedir).load_run(run_id)


def _read_bytes(path: str) -> bytes:
    """The whole file, read into a buffer kept for the thread: a listing reads three small files per
    run, and fresh memory for each read (a buffered file's, or ``os.read``'s) costs more than the read."""
    buf = getattr(_BUFFER, "view", None)
    if buf is None:
        buf = _BUFFER.view = memoryview(bytearray(_READ_AT_ONCE))
    fd = os.open(path, os.O_RDONLY)
    try:
        n = os.readv(fd, [buf])
        if n < len(buf):  # a regular file gives less than asked only at its end
            return bytes(buf[:n])
        parts = [bytes(buf)]
        while n:
            n = os.readv(fd, [buf])
            parts.append(bytes(buf[:n]))
        return b"".join(parts)
    finally:
        os.close(fd)


_READ_AT_ONCE = 1 << 20
_BUFFER = threading.local()
_UNREAD = object()


def _skim_jsonl_finals(path: str) -> Any:
    """The last value of each metric in ``metrics.jsonl`` without decoding its series: each line is
    read in the layout our writer gives it (sorted keys, no spaces, flat arrays of numbers, timestamps
    as plain strings; :func:`_skim_line`), a line in any other layout or torn decoded as
    :meth:`FileStorageReader._metrics_from_jsonl` does. None when a metric has no value, ``_UNREAD``
    when there is no such file (the caller reads ``metrics.json``).

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "metrics.jsonl")
    >>> with open(path, "w") as fh:
    ...     _ = fh.write('{"loss":{"steps":[0,1],"timestamps":["a","b"],"values":[0.5,0.25]}}\\n')
    ...     _ = fh.write('{"acc":{"steps":[0],"timestamps":["c"],"values":[NaN]}}\\n{"loss":{"st')
    >>> _skim_jsonl_finals(path)
    {'loss': 0.25, 'acc': nan}
    """
    try:
        data = _read_bytes(path)
    except FileNotFoundError:
        return _UNREAD
    state: dict[str, tuple[bool, Any]] = {}
    for raw in data.split(b"\n"):
        if not raw:
            continue
        effects = _skim_line(raw.decode("utf-8", "surrogateescape"))
        if effects is None:
            try:
                delta = json_loads(raw)
            except ValueError:  # empty, or torn by a killed writer: skipped, as a full read does
                continue
            effects = {}
            for name, part in delta.items():  # as _metrics_from_jsonl extends the series
                values = list(part.get("values", []))
                effects[name] = (True, values[-1]) if values else (False, None)
        for name, got in effects.items():
            if got[0] or name not in state:
                state[name] = got
    if not all(got[0] for got in state.values()):
        return None
    return {name: document.decode(got[1]) for name, got in state.items()}


def _skim_line(line: str) -> dict[str, tuple[bool, Any]] | None:
    """``{name: (has values, last value)}`` of one ``metrics.jsonl`` line in our writer's layout (sorted
    keys, no spaces), found by plain text search; None for any other text."""
    got = skim_series_map(line, 0, SORTED_ORDER)
    return got[0] if got is not None and got[1] == len(line) else None


def _has_run_json(path: str) -> bool:
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def _by_value(numeric: list[str]) -> list[str]:
    """Numeric run ids in listing order: by value, and by name among equal values ("007" before "7")."""
    return sorted(sorted(numeric), key=int)


class FileStorageReader:
    """Reads runs from a FileStorageObserver folder (Sacred's or ours) as :class:`RunRecord`.

    >>> import tempfile
    >>> reader = FileStorageReader(tempfile.mkdtemp())
    >>> [r.id for r in reader.list_runs()]
    []
    """

    def __init__(self, basedir: str | os.PathLike[str]) -> None:
        self.basedir = os.fspath(basedir)

    def _names(self) -> tuple[list[str], list[str]]:
        """The names that may be runs, from one ``listdir`` (nothing opened or ``stat``-ed): numeric
        ones as listed, and the others (custom ids) that are folders, sorted."""
        try:
            names = os.listdir(self.basedir)
        except FileNotFoundError:
            return [], []
        numeric = [n for n in names if n.isdigit() and n.isascii()]
        if len(numeric) == len(names):
            return numeric, []
        base = self.basedir
        other = sorted(
            n for n in names
            if not (n.isdigit() and n.isascii()) and not n.startswith(("_", "."))
            and os.path.isdir(f"{base}/{n}")
        )
        return numeric, other

    def run_ids(self) -> list[str]:
        """Every run's id in listing order: the folders that hold a ``run.json`` (one ``stat`` each; a
        folder whose start is not written yet is no run)."""
        # paths built by hand: posixpath.join per run shows in a listing of 100,000 runs
        numeric, other = self._names()
        base = self.basedir
        is_run = _has_run_json
        return [n for n in _by_value(numeric) + other if is_run(f"{base}/{n}/run.json")]

    def list_runs(self) -> Iterator[RunRecord]:
        """Every run, numeric ids in order (then other names). The records are lazy: listing reads
        the folder's names only; a run's ``run.json``/``config.json``/``info.json`` are read when one of
        its fields is, ``metrics`` and ``cout.txt`` only when those are."""
        yield from self._lazy(self.run_ids())

    def last_runs(self, n: int) -> RunTail:
        """The last ``n`` runs of :meth:`list_runs` (lazy records, oldest first), at the cost of one
        folder listing and a ``stat`` of the ``run.json`` of the folders taken: from the newest name
        back, a folder without ``run.json`` (a start not written yet, a stray folder) is skipped and
        the next older one taken instead. ``total`` counts the entries named like runs without
        opening each one, less the ones found to be no run (so a folder whose start is not written
        yet, older than the runs taken, still counts).

        >>> import tempfile
        >>> FileStorageReader(tempfile.mkdtemp()).last_runs(3)
        RunTail(records=[], total=0)
        """
        if n < 0:
            raise ValueError(f"last_runs({n}): give a number of runs, 0 or more")
        numeric, other = self._names()
        base = self.basedir
        taken: list[str] = []
        skipped = 0
        # newest first: other names come after the numeric ids in a listing
        for name in itertools.chain(reversed(other), reversed(_by_value(numeric))):
            if len(taken) >= n:
                break
            if _has_run_json(f"{base}/{name}/run.json"):
                taken.append(name)
            else:
                skipped += 1
        return RunTail(self._lazy(reversed(taken)), len(numeric) + len(other) - skipped)

    def _lazy(self, run_ids: Iterable[str]) -> list[RunRecord]:
        store = f"file:{self.basedir}"
        peeked: dict[str, tuple[Any, bool]] = {}  # configs read by a peek, for the light load to take
        with gc_paused():
            return [
                LazyRunRecord.lazy(functools.partial(self._values, run_id, peeked=peeked),
                                   functools.partial(self._heavy, run_id),
                                   functools.partial(self._peek_config, run_id, peeked),
                                   id=run_id, store=store)
                for run_id in run_ids
            ]

    def _peek_config(self, run_id: str, peeked: dict[str, tuple[Any, bool]]) -> Any:
        """The run's config from ``config.json`` alone (kept for its light load); NOT_PEEKED when the
        light load must say what is wrong (the run is gone, the file unreadable)."""
        run_dir = f"{self.basedir}/{run_id}"
        try:
            if not _has_run_json(f"{run_dir}/run.json"):
                return NOT_PEEKED
            data = _read_bytes(f"{run_dir}/config.json")
            config = json_loads(data)
        except (OSError, ValueError):
            return NOT_PEEKED
        plain = document.plain_text(data)
        peeked[run_id] = (config, plain)
        return config if plain else document.decode(config)

    def _values(
        self, run_id: str, full: bool, peeked: dict[str, tuple[Any, bool]] | None = None
    ) -> dict[str, Any]:
        try:
            return self._read_values(run_id, full, peeked)
        except (OSError, ValueError) as e:  # damaged after it was listed: one clear line
            raise StoreFormatError(
                f"cannot read file:{self.basedir}: run {run_id}: {type(e).__name__}: {e}"
            ) from None

    def _heavy(self, run_id: str, name: str) -> Any:
        """One bulky field of a run, read on its own: ``metrics`` (``metrics.jsonl``, else
        ``metrics.json``) or ``captured_out`` (``cout.txt``)."""
        run_dir = f"{self.basedir}/{run_id}"
        try:
            if not _has_run_json(f"{run_dir}/run.json"):  # gone since it was listed
                raise run_not_found(run_id, f"file:{self.basedir}")
            if name == "metrics":
                return document.metric_series(self._metrics(run_dir))
            return self._cout(run_dir)
        except (OSError, ValueError) as e:
            raise StoreFormatError(
                f"cannot read file:{self.basedir}: run {run_id}: {type(e).__name__}: {e}"
            ) from None

    def _metrics(self, run_dir: str) -> Any:
        metrics = self._metrics_from_jsonl(f"{run_dir}/metrics.jsonl")
        if metrics is None:
            metrics = self._json(run_dir, "metrics.json", {})
        return metrics or {}

    @staticmethod
    def _cout(run_dir: str) -> str:
        try:
            with open(f"{run_dir}/cout.txt", "rb") as fh:
                return fh.read().decode("utf-8", errors="surrogateescape")
        except FileNotFoundError:
            return ""

    @staticmethod
    def _json(run_dir: str, name: str, default: Any) -> Any:
        return FileStorageReader._json_text(run_dir, name, default)[0]

    @staticmethod
    def _json_text(run_dir: str, name: str, default: Any) -> tuple[Any, bool]:
        """The file's JSON value, and whether its text is plain (:func:`document.plain_text`)."""
        # bytes to json.loads: reading text through a decoder first costs more than the parse
        try:
            data = _read_bytes(f"{run_dir}/{name}")
        except FileNotFoundError:
            return default, True
        return json_loads(data), document.plain_text(data)

    @staticmethod
    def _metrics_from_jsonl(path: str) -> dict[str, dict[str, list[Any]]] | None:
        try:
            data = _read_bytes(path)
        except FileNotFoundError:
            return None
        metrics: dict[str, dict[str, list[Any]]] = {}
        for raw in data.split(b"\n"):
            if not raw:  # the end of the last line (an exception per run costs more than its parse)
                continue
            try:
                delta = json_loads(raw)
            except ValueError:  # empty, or torn by a killed writer
                continue
            for name, part in delta.items():
                stored = metrics.setdefault(name, {"steps": [], "values": [], "timestamps": []})
                for key in ("steps", "values", "timestamps"):
                    stored[key].extend(part.get(key, []))
        return metrics

    def load_run(self, run_id: Any) -> RunRecord:
        return RunRecord(**self._read_values(run_id, True))

    def _read_values(
        self, run_id: Any, full: bool, peeked: dict[str, tuple[Any, bool]] | None = None
    ) -> dict[str, Any]:
        name = str(run_id)
        run_dir = os.path.join(self.basedir, name)
        if name.startswith(("_", ".")) or os.sep in name or (os.altsep and os.altsep in name):
            raise run_not_found(run_id, f"file:{self.basedir}")
        try:
            data = _read_bytes(f"{run_dir}/run.json")
        except (FileNotFoundError, NotADirectoryError):
            raise run_not_found(run_id, f"file:{self.basedir}") from None
        entry = json_loads(data)
        metrics: Any = {}
        captured_out = ""
        if full:
            metrics = self._metrics(run_dir)
            captured_out = self._cout(run_dir)
        got = peeked.pop(name, None) if peeked else None
        config, plain_config = got if got is not None else self._json_text(run_dir, "config.json", {})
        info, plain_info = self._json_text(run_dir, "info.json", {})
        values = document.record_values(
            entry,
            store=f"file:{self.basedir}",
            # none of the files holds a form decode changes: nothing to walk
            plain=plain_config and plain_info and document.plain_text(data),
            id=name,
            config=config,
            info=info,
            captured_out=captured_out,
            metrics=metrics,
        )
        if not full:  # read when first asked for: a --where keeps some runs, the others never need them
            values[FINAL_METRICS] = functools.partial(self._finals, run_dir)
        return values

    def _finals(self, run_dir: str) -> dict[str, Any] | None:
        """The last value of each metric, as ``final_metrics()`` gives it, without converting every
        step, value and timestamp of the series; None (load the metrics) when a series is empty or
        the file cannot be read (the full load then says what is wrong)."""
        try:
            if not _has_run_json(f"{run_dir}/run.json"):  # gone since it was listed: the load says so
                return None
            skimmed = _skim_jsonl_finals(f"{run_dir}/metrics.jsonl")
            if skimmed is not _UNREAD:
                return skimmed
            metrics = self._metrics(run_dir)
            out: dict[str, Any] = {}
            for metric, series in metrics.items():
                series_values = list(series.get("values", []))
                if not series_values:
                    return None
                out[str(metric)] = document.decode(series_values[-1])
            return out
        except (OSError, ValueError, TypeError, AttributeError, LookupError):
            return None

    def load_artifact(self, run_id: Any, name: str) -> bytes:
        """The bytes of one artifact of a run; ``KeyError`` when there is none."""
        check_artifact_name(name)
        rid = str(run_id)
        if rid.startswith(("_", ".")) or os.sep in rid:
            raise KeyError((run_id, name))
        try:
            with open(os.path.join(self.basedir, rid, name), "rb") as fh:
                return fh.read()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise KeyError((run_id, name)) from None
