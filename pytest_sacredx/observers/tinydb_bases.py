"""The pieces under the TinyDB store: an append-only, multi-process TinyDB storage and a hash file store.

Why not TinyDB's ``JSONStorage``? It serialises and rewrites the whole database on every write, so each
event of the 2,000th run costs 200 times the 10th, and two processes writing one file lose each other's
runs or tear the file. The embedded default store records *every* pytest case, often from several xdist
workers at once, so it needs O(1) writes and safe sharing. :class:`LogStorage` is a TinyDB ``Storage``
whose file is a JSON-lines **log**:

- line 1 is a header (``{"sacredx_tinydb_log": 1, "snapshot_bytes": n}``); every further line is one
  change: a whole document (``doc``), a patch of top-level fields (``set``), list extensions (``ext``, e.g.
  new metric points), string appends (``cat``, new captured output) or a deletion (``del``);
- a write appends one short line under an ``fcntl.flock`` lock (on ``metadata.json.lock``, a file that is
  never replaced) — it costs the size of the change, not of the database;
- the observer's writes load nothing: the log's end and the next document id come from the run index
  (:mod:`~pytest_sacredx.observers.tinydb_index`, ``metadata.json.idx``, one record per line, appended
  with the line and checked against the log), so a writer's memory is the same for an empty store and
  for one of 100,000 runs. Only TinyDB's own API (``read``, ``search``, ``update``, …) loads the
  database into memory, and then, before each read or write, replays only the bytes appended since its
  last offset (two ``stat`` calls when nothing changed);
- only complete lines are consumed, so a reader never sees a half-written change; a torn last line left
  by a killed writer is skipped and cut off by the next writer (which holds the lock, so the tail cannot
  belong to a live one);
- when the log has grown to three times its last compacted size (and past a few MB), the writer holding
  the lock rewrites it as one ``doc`` line per document (a run's output and metrics on a second line, so
  that listings can skip them) and renames it into place (atomic); the others notice the new inode and
  reload. Compaction points grow geometrically, so its cost per write is O(1); it is the one moment a
  writer holds the whole database.

Document ids come from the log under the lock, so processes never hand out the same id. Plain TinyDB
calls (``table.insert``, ``table.update``, ``db.drop_table``) also work: :class:`LogTable` runs them under
the lock and appends only the documents they touched. A store written by stock TinyDB (Sacred's
``metadata.json``) is imported on first open.

:class:`HashStore` is a small content-addressed file store laid out like the ``hashfs`` package that Sacred
uses (md5, depth 3, width 2: ``hashfs/ab/cd/ef/<rest of digest>``), written atomically.

>>> import tempfile, os
>>> from tinydb import TinyDB
>>> d = tempfile.mkdtemp()
>>> db = TinyDB(os.path.join(d, "metadata.json"), storage=LogStorage)
>>> runs = db.table("runs")
>>> runs.insert({"status": "RUNNING"})
1
>>> db.storage.patch("runs", 1, set={"status": "COMPLETED"})
>>> runs.get(doc_id=1)
{'status': 'COMPLETED'}
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import IO, Any

from tinydb import TinyDB
from tinydb.storages import Storage
from tinydb.table import Table

from ..atomic import write_all
from .atomic import FileLock, write_bytes_atomic
from .tinydb_finals import finals_of
from .tinydb_index import DOC, DROP, IndexFile, classify

__all__ = ["LOG_HEADER", "HashStore", "LogStorage", "LogTable", "LogTinyDB", "apply_patch", "dumps_line"]

_HEADER_KEY = "sacredx_tinydb_log"
#: the first bytes of our append log's ``metadata.json``; other JSON there is a stock TinyDB file (Sacred's)
LOG_HEADER = b'{"' + _HEADER_KEY.encode() + b'"'
_TINYDATE = "{TinyDate}:"
#: the fields of a run that hold its bulk, kept on lines of their own by a compaction
_BULK = ("captured_out", "metrics")


def dumps_line(obj: Any) -> str:
    """One log line's JSON: non-ASCII text as it is, but text that is not UTF-8 (lone surrogates from
    ``os.fsdecode``) as ``\\udcxx`` escapes, so the line encodes and reads back exactly."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(obj, ensure_ascii=True, separators=(",", ":"))
    return text


_dumps = dumps_line


def apply_patch(
    doc: dict[str, Any],
    set: Mapping[str, Any] | None = None,  # noqa: A002 - the log's own word
    ext: list[tuple[list[str], list[Any]]] | None = None,
    cat: Mapping[str, str] | None = None,
) -> None:
    """Apply a log patch to ``doc`` in place: ``set`` fields, ``ext``-end lists at key paths, ``cat`` strings.

    >>> d = {"metrics": {}}
    >>> apply_patch(d, set={"a": 1}, ext=[(["metrics", "loss", "values"], [0.5])], cat={"out": "hi"})
    >>> d
    {'metrics': {'loss': {'values': [0.5]}}, 'a': 1, 'out': 'hi'}
    """
    if set:
        doc.update(set)
    for path, items in ext or ():
        target: Any = doc
        for key in path[:-1]:
            nxt = target.get(key)
            if not isinstance(nxt, dict):
                nxt = target[key] = {}
            target = nxt
        current = target.get(path[-1])
        if isinstance(current, list):
            current.extend(items)
        else:
            target[path[-1]] = list(items)
    for key, text in (cat or {}).items():
        current = doc.get(key)
        doc[key] = (current if isinstance(current, str) else "") + text


def _strip_tinydate(value: Any) -> Any:
    """Sacred's TinyDB stores dates as ``"{TinyDate}:2024-01-01T…"``; keep the ISO part."""
    if isinstance(value, str):
        return value[len(_TINYDATE) :] if value.startswith(_TINYDATE) else value
    if isinstance(value, dict):
        return {k: _strip_tinydate(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_strip_tinydate(v) for v in value]
    return value


class LogStorage(Storage):
    """A TinyDB storage over an append-only JSON-lines log, safe for many processes (see module docs).

    ``read_only=True`` never creates, locks or writes anything (for readers). ``compact_min_bytes``: no
    compaction below this log size.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        read_only: bool = False,
        compact_min_bytes: int = 4 << 20,
        create_dirs: bool = True,
        index_table: str = "runs",
        **_ignored: Any,
    ) -> None:
        super().__init__()
        self.path = os.fspath(path)
        self.index_table = index_table
        #: the sidecar run index (``<path>.idx``) of ``index_table``; see :mod:`.tinydb_index`
        self.index = IndexFile(self.path, index_table)
        self.read_only = read_only
        self.compact_min_bytes = compact_min_bytes
        if create_dirs and not read_only:
            os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        self.lock = FileLock(self.path + ".lock")
        self._mutex = threading.RLock()
        self._fd: int | None = None
        self._ino: tuple[int, int] | None = None
        self._offset = 0
        self._snapshot_bytes = 0
        self._tables: dict[str, dict[str, dict[str, Any]]] = {}
        self._max_id: dict[str, int] = {}
        self._by_run_id: dict[tuple[str, Any], str] = {}
        #: bumped on every change applied to the in-memory state (tables use it to drop query caches)
        self.generation = 0
        self.compactions = 0
        #: log lines parsed into the in-memory state (the lean write path parses none)
        self.parsed_lines = 0
        # The whole database is held in memory only once something asks for it (TinyDB's API: read,
        # search, update…); until then writes take the lean path: the log's end and the next document
        # id come from the index, and only the documents this object wrote are kept.
        self._full = False
        self._wfd: int | None = None
        self._wino: tuple[int, int] | None = None
        self._end = 0
        self._wmax = 0
        self._wsnap: int | None = None
        # (size, mtime) of the log right after this object's last lean write: while it and the
        # index's stamp still match, nobody has written either since, and the next write needs no sync
        self._wstamp: tuple[int, int] | None = None
        self._own: dict[tuple[str, str], dict[str, Any]] = {}

    # -- the log file ---------------------------------------------------------------------------------

    def _open_fd(self) -> int | None:
        flags = os.O_RDONLY if self.read_only else os.O_RDWR | os.O_APPEND | os.O_CREAT
        try:
            return os.open(self.path, flags, 0o644)
        except FileNotFoundError:
            return None

    def _reset(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
        self._fd = self._open_fd()
        self._ino = None
        self._offset = 0
        self._snapshot_bytes = 0
        self._tables = {}
        self._max_id = {}
        self._by_run_id = {}
        self.generation += 1
        if self._fd is not None:
            st = os.fstat(self._fd)
            self._ino = (st.st_dev, st.st_ino)

    def catch_up(self) -> None:
        """Bring the in-memory state up to date with the file: replay complete lines appended since.

        The first call loads the whole database (TinyDB's API needs it); the observer's writes do not
        call it."""
        with self._mutex:
            self._full = True
            try:
                st = os.stat(self.path)
            except FileNotFoundError:
                if self._fd is not None or self._tables:
                    self._reset()
                return
            if self._fd is None or (st.st_dev, st.st_ino) != self._ino:
                self._reset()  # first open, or compacted (replaced) by another process
                if self._fd is None:
                    return
            size = os.fstat(self._fd).st_size
            if size < self._offset:  # shrunk under us (replaced in place): start over
                self._reset()
                size = os.fstat(self._fd).st_size
            if size == self._offset:
                return
            data = os.pread(self._fd, size - self._offset, self._offset)
            if self._offset == 0 and not data.startswith(LOG_HEADER):
                if LOG_HEADER.startswith(data):
                    return  # the header is being written (or was torn: the next writer redoes it)
                if self.read_only or self.lock.held:
                    self._import_legacy(data)
                else:
                    with self.locked():  # converts it under the lock (re-enters catch_up)
                        pass
                return
            end = data.rfind(b"\n")
            if end < 0:
                return
            for raw in data[:end].split(b"\n"):
                self._apply_line(raw)
            self._offset += end + 1

    def _import_legacy(self, data: bytes) -> None:
        """A whole-file TinyDB JSON database (stock TinyDB, Sacred): load it, and convert it if we may write."""
        try:
            tables = json.loads(data)
        except ValueError:
            raise ValueError(
                f"{self.path} is neither a pytest-sacredx TinyDB log nor a TinyDB JSON file "
                "(it may have been cut short); move it away to start a fresh store."
            ) from None
        for name, docs in (tables or {}).items():
            self._tables[name] = {}
            for doc_id, doc in docs.items():
                self._put(name, str(doc_id), _strip_tinydate(doc))
        self._offset = len(data)
        if not self.read_only:  # we hold the lock: rewrite it as a log, once
            self._write_snapshot()

    def _apply_line(self, raw: bytes) -> None:
        self.parsed_lines += 1
        try:
            rec = json.loads(raw)
        except ValueError:  # torn by a killed writer (or damaged): skip it
            return
        if not isinstance(rec, dict):
            return
        if _HEADER_KEY in rec:
            self._snapshot_bytes = int(rec.get("snapshot_bytes", 0))
            return
        self._apply(rec)

    def _apply(self, rec: dict[str, Any]) -> None:
        name = rec.get("t")
        if not isinstance(name, str):
            return
        self.generation += 1
        if "drop" in rec:
            for doc_id in list(self._tables.get(name, {})):
                self._delete(name, doc_id)
            self._tables.pop(name, None)
            self._max_id.pop(name, None)
            return
        table = self._tables.setdefault(name, {})
        if "id" not in rec:
            return
        doc_id = str(rec["id"])
        if "doc" in rec:
            self._put(name, doc_id, rec["doc"])
        elif rec.get("del"):
            self._delete(name, doc_id)
        else:
            doc = table.get(doc_id)
            if doc is None:
                return
            old = doc.get("_id")
            apply_patch(doc, rec.get("set"), rec.get("ext"), rec.get("cat"))
            if doc.get("_id") != old:
                self._by_run_id.pop((name, old), None)
                self._by_run_id[(name, doc.get("_id"))] = doc_id

    def _put(self, name: str, doc_id: str, doc: dict[str, Any]) -> None:
        table = self._tables.setdefault(name, {})
        old = table.get(doc_id)
        if old is not None:
            self._by_run_id.pop((name, old.get("_id")), None)
        table[doc_id] = doc
        if "_id" in doc:
            self._by_run_id[(name, doc["_id"])] = doc_id
        try:
            self._max_id[name] = max(self._max_id.get(name, 0), int(doc_id))
        except ValueError:
            pass

    def _delete(self, name: str, doc_id: str) -> None:
        doc = self._tables.get(name, {}).pop(doc_id, None)
        if doc is not None:
            self._by_run_id.pop((name, doc.get("_id")), None)

    # -- writing --------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the cross-process lock with the in-memory state caught up (re-entrant)."""
        if self.read_only:
            raise PermissionError(f"{self.path} was opened read-only")
        with self._mutex, self.lock:
            if self.lock._depth == 1:  # outermost: others may have written since
                self.catch_up()
                if self._fd is None:
                    self._reset()  # creates the file
                self._cut_torn_tail()
                assert self._fd is not None
                self._sync_index(self._fd, self._offset)
            yield

    def _sync_index(self, fd: int, end: int) -> tuple[int, int]:
        """Make the index cover the log's complete lines up to ``end`` (under the lock): checked
        against the log, extended by what others appended without it, rebuilt when it does not
        match. Returns ``(covered, highest document id)``; streams the log, holds no document."""
        tail = self.index.tail(fd)
        if tail is None or tail[0] > end:
            return self.index.rebuild(fd, 0, end, 0, fresh=True)
        covered, max_id = tail
        if covered < end:
            covered, max_id = self.index.rebuild(fd, covered, end, max_id, fresh=False)
        return covered, max_id

    def _index_records(
        self, start: int, lines: list[bytes], records: list[dict[str, Any]], max_id: int
    ) -> int:
        """Append the index records of lines just appended at ``start``; returns the new max id."""
        out = []
        off = start
        for line, rec in zip(lines, records, strict=True):
            kind, doc_id = classify(rec, self.index_table)
            if kind == DOC:
                max_id = max(max_id, doc_id)
            elif kind == DROP:
                max_id = 0
            out.append((off, len(line) - 1, kind, doc_id, max_id))
            off += len(line)
        self.index.append(out)
        return max_id

    def _cut_torn_tail(self) -> None:
        assert self._fd is not None
        size = os.fstat(self._fd).st_size
        if size > self._offset:  # a partial line from a writer that died while holding the lock
            os.ftruncate(self._fd, self._offset)
        if self._offset == 0:
            header = (_dumps({_HEADER_KEY: 1, "snapshot_bytes": 0}) + "\n").encode()
            self._write(header)

    def _write(self, data: bytes) -> None:
        assert self._fd is not None
        write_all(self._fd, data)
        self._offset += len(data)

    def _append(self, records: list[dict[str, Any]]) -> None:
        """Append records (under the lock) and apply them to the in-memory state."""
        if not records:
            return
        lines = [(_dumps(r) + "\n").encode("utf-8") for r in records]
        start = self._offset
        self._write(b"".join(lines))
        self._index_records(start, lines, records, self._max_id.get(self.index_table, 0))
        for rec in records:
            self._apply(rec)
        if self._offset > max(self.compact_min_bytes, 3 * self._snapshot_bytes):
            self._write_snapshot()

    # -- the lean write path (no document loaded) ----------------------------------------------------

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """Hold the lock with the log's end and highest document id known, reading no document."""
        if self.read_only:
            raise PermissionError(f"{self.path} was opened read-only")
        with self._mutex, self.lock:
            if self.lock._depth == 1:
                self._lean_sync()
            yield

    def _lean_sync(self) -> None:
        try:
            st: os.stat_result | None = os.stat(self.path)
        except FileNotFoundError:
            st = None
        if self._wfd is None or st is None or (st.st_dev, st.st_ino) != self._wino:
            if self._wfd is not None:
                os.close(self._wfd)
            self._wfd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
            fst = os.fstat(self._wfd)
            self._wino = (fst.st_dev, fst.st_ino)
            self._wsnap = None
            self._wstamp = None
        fd = self._wfd
        fst = os.fstat(fd)
        if self._wstamp == (fst.st_size, fst.st_mtime_ns) and self.index.unchanged():
            # Neither the log nor its index changed since this object's last write under the lock
            # (another writer's append, a torn tail or its repair, a compaction all change a size, a
            # time or the inode): its end, next id and the index's running CRC still hold.
            return
        self._wstamp = None
        size = fst.st_size
        head = os.pread(fd, len(LOG_HEADER), 0)
        if head and not head.startswith(LOG_HEADER) and not LOG_HEADER.startswith(head):
            # a stock TinyDB file (Sacred's): the full path imports and converts it, once
            self.catch_up()
            self._drop_full()
            self._wino = None
            self._lean_sync()
            return
        covered, max_id = self._sync_index(fd, size)
        if covered < size:  # a torn last line from a writer killed while holding the lock
            os.ftruncate(fd, covered)
        self._end, self._wmax = covered, max_id
        if covered == 0:
            # A new log: its first line names it in the index's header, so index it once it exists.
            header = (_dumps({_HEADER_KEY: 1, "snapshot_bytes": 0}) + "\n").encode()
            write_all(fd, header)
            self._end, self._wmax = self.index.rebuild(fd, 0, len(header), 0, fresh=True)
        if self._wsnap is None:
            first = os.pread(fd, 256, 0).split(b"\n", 1)[0]
            try:
                self._wsnap = int(json.loads(first).get("snapshot_bytes", 0))
            except (ValueError, AttributeError, TypeError):
                self._wsnap = 0

    def _lean_write(self, records: list[dict[str, Any]]) -> None:
        assert self._wfd is not None
        lines = [(_dumps(r) + "\n").encode("utf-8") for r in records]
        self._wstamp = None
        write_all(self._wfd, b"".join(lines))
        fst = os.fstat(self._wfd)
        self._wstamp = (fst.st_size, fst.st_mtime_ns)
        self._wmax = self._index_records(self._end, lines, records, self._wmax)
        self._end += sum(len(line) for line in lines)

    def _lean_append(self, records: list[dict[str, Any]]) -> None:
        self._lean_write(records)
        if self._end > max(self.compact_min_bytes, 3 * (self._wsnap or 0)):
            # compaction needs every document: load them, rewrite, and let them go again
            self.catch_up()
            self._write_snapshot()
            self._drop_full()

    def _drop_full(self) -> None:
        self._fd_close()
        self._offset = 0
        self._snapshot_bytes = 0
        self._tables, self._max_id, self._by_run_id = {}, {}, {}
        self.generation += 1
        self._full = False

    def _remember(self, table: str, doc_id: int, doc: dict[str, Any]) -> None:
        key = (table, str(doc_id))
        self._own.pop(key, None)
        self._own[key] = doc
        while len(self._own) > 16:  # the runs this process is writing; older ones are in the log
            del self._own[next(iter(self._own))]

    @property
    def loaded(self) -> bool:
        """Whether this object holds the whole database in memory (TinyDB's API was used)."""
        return self._full

    def _lean(self, table: str) -> bool:
        return not self._full and table == self.index_table

    def _run_id_exists(self, run_id: Any) -> bool:
        """Whether a live document of the indexed table has ``_id == run_id`` (streams the log)."""
        assert self._wfd is not None
        from .tinydb_index import find_run_lines

        return find_run_lines(self.index, self._wfd, self._end, run_id, _dumps) is not None

    def insert_doc(
        self, table: str, doc: dict[str, Any], unique_run_id: bool = False
    ) -> int | None:
        """Append a new document under a fresh id and return the id.

        With ``unique_run_id``, return None instead if a document with the same ``_id`` exists.
        The document is owned by the storage afterwards (do not mutate it).
        """
        if self._lean(table):
            with self._writing():
                if unique_run_id and self._run_id_exists(doc.get("_id")):
                    return None
                doc_id = self._wmax + 1
                self._lean_append([{"t": table, "id": doc_id, "doc": doc}])
                self._remember(table, doc_id, doc)
                return doc_id
        with self.locked():
            if unique_run_id and (table, doc.get("_id")) in self._by_run_id:
                return None
            doc_id = self._max_id.get(table, 0) + 1
            self._append([{"t": table, "id": doc_id, "doc": doc}])
            return doc_id

    def put_doc(self, table: str, doc_id: int, doc: dict[str, Any]) -> None:
        """Replace (or create) one document."""
        if self._lean(table):
            with self._writing():
                self._lean_append([{"t": table, "id": int(doc_id), "doc": doc}])
                self._remember(table, doc_id, doc)
            return
        with self.locked():
            self._append([{"t": table, "id": int(doc_id), "doc": doc}])

    def patch(
        self,
        table: str,
        doc_id: int,
        set: Mapping[str, Any] | None = None,  # noqa: A002
        ext: list[tuple[list[str], list[Any]]] | None = None,
        cat: Mapping[str, str] | None = None,
        fin: Mapping[str, Any] | None = None,
    ) -> None:
        """Change one document by appending one line: the O(1) write path of the observer. ``fin``,
        the run's final metric values after this change, goes with the line, not into the document
        (:mod:`~pytest_sacredx.observers.tinydb_finals`)."""
        rec: dict[str, Any] = {"t": table, "id": int(doc_id)}
        if set:
            rec["set"] = dict(set)
        if ext:
            rec["ext"] = [[list(p), list(items)] for p, items in ext]
        if cat:
            rec["cat"] = dict(cat)
        if fin is not None:
            rec["fin"] = dict(fin)
        if self._lean(table):
            with self._writing():
                self._lean_append([rec])
                own = self._own.get((table, str(doc_id)))
                if own is not None:
                    apply_patch(own, set, ext, cat)
            return
        with self.locked():
            self._append([rec])

    def find_run(self, table: str, run_id: Any) -> int | None:
        """The document id of the document whose ``_id`` is ``run_id`` (O(1))."""
        self.catch_up()
        doc_id = self._by_run_id.get((table, run_id))
        return None if doc_id is None else int(doc_id)

    def doc(self, table: str, doc_id: int) -> dict[str, Any] | None:
        """The document as this process knows it (read-only by convention): the in-memory database's,
        or on the lean path the one this object wrote, else read from the log through the index."""
        if not self._lean(table):
            return self._tables.get(table, {}).get(str(doc_id))
        own = self._own.get((table, str(doc_id)))
        if own is not None:
            return own
        from .tinydb_index import read_doc

        fd = os.open(self.path, os.O_RDONLY) if os.path.exists(self.path) else None
        if fd is None:
            return None
        try:
            return read_doc(self.index, fd, int(doc_id))
        finally:
            os.close(fd)

    def max_doc_id(self, table: str) -> int:
        self.catch_up()
        return self._max_id.get(table, 0)

    def apply_changes(
        self, table: str, puts: Mapping[str, dict[str, Any]], deletes: list[str], created: bool
    ) -> None:
        """Append the documents a TinyDB table operation changed (called under the lock)."""
        records: list[dict[str, Any]] = []
        if created and table not in self._tables:
            records.append({"t": table})
        records += [{"t": table, "id": int(i), "del": 1} for i in deletes]
        records += [{"t": table, "id": int(i), "doc": d} for i, d in puts.items()]
        self._append(records)

    def _write_snapshot(self, tables: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        """Rewrite the log as one line per document and rename it into place (under the lock).

        A run's bulk (``captured_out``, ``metrics``) goes into a second line of its own, so that a
        listing reads the first line only; the first line also carries the last value of each metric
        (``fin``, covering the one line after it), so that a listing need not read the second."""
        tables = self._tables if tables is None else tables
        lines = [_dumps({"t": name}) for name in tables]
        for name, docs in tables.items():
            for i, d in docs.items():
                heavy = {k: d[k] for k in _BULK if d.get(k)} if name == self.index_table else {}
                light = {k: v for k, v in d.items() if k not in heavy} if heavy else d
                line: dict[str, Any] = {"t": name, "id": int(i), "doc": light}
                fin = finals_of(d.get("metrics") or {}) if heavy else None
                if fin is not None:
                    line["fin"], line["fin_covers"] = fin, 1
                lines.append(_dumps(line))
                if heavy:
                    lines.append(_dumps({"t": name, "id": int(i), "set": heavy}))
        body = "".join(line + "\n" for line in lines).encode("utf-8")
        header = (_dumps({_HEADER_KEY: 1, "snapshot_bytes": len(body)}) + "\n").encode()
        write_bytes_atomic(self.path, header + body)
        self.compactions += 1
        # reopen the new file and load it as any other process would
        self._fd_close()
        self.catch_up()
        assert self._fd is not None
        self._sync_index(self._fd, self._offset)

    def _fd_close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
        self._fd = None
        self._ino = None

    def compact(self) -> None:
        """Rewrite the log compactly now (it also happens automatically)."""
        with self.locked():
            self._write_snapshot()

    # -- TinyDB's Storage interface -------------------------------------------------------------------

    def read(self) -> dict[str, dict[str, Any]] | None:
        self.catch_up()
        # A shallow copy: TinyDB assigns tables into the dict it gets; documents stay shared (cheap).
        return dict(self._tables) if self._tables else None

    def write(self, data: dict[str, dict[str, Any]]) -> None:
        """Replace the whole database (TinyDB calls this only for ``drop_table(s)``)."""
        with self.locked():
            tables = {name: {str(k): v for k, v in docs.items()} for name, docs in data.items()}
            self._write_snapshot(tables)

    def close(self) -> None:
        with self._mutex:
            self._fd_close()
            if self._wfd is not None:
                os.close(self._wfd)
                self._wfd = None
                self._wino = None
                self._wstamp = None
            self.lock.close()


class _TouchTracker(dict):  # type: ignore[type-arg]
    """The table dict a TinyDB updater sees: documents are copied when first looked up, so in-place
    updates do not reach the shared state until they are appended to the log, and we know which changed."""

    def __init__(self, items: Iterator[tuple[int, Any]]) -> None:
        super().__init__(items)
        self.touched: set[int] = set()

    def __getitem__(self, key: int) -> Any:
        if key not in self.touched:
            self.touched.add(key)
            value = dict.__getitem__(self, key)
            value = json.loads(_dumps(value))
            dict.__setitem__(self, key, value)
            return value
        return dict.__getitem__(self, key)

    def __setitem__(self, key: int, value: Any) -> None:
        self.touched.add(key)
        dict.__setitem__(self, key, value)


class LockedInserts(Table):
    """Inserts hold the storage's lock (``storage.locked()``) and take a fresh next id each time:
    another process may have added documents since this Table object last looked."""

    _storage: Any

    def insert(self, document: Mapping[Any, Any]) -> int:
        with self._storage.locked():
            self._next_id = None
            try:
                return super().insert(document)
            finally:
                self._next_id = None

    def insert_multiple(self, documents: Any) -> list[int]:
        with self._storage.locked():
            self._next_id = None
            try:
                return super().insert_multiple(documents)
            finally:
                self._next_id = None


class LogTable(LockedInserts):
    """A TinyDB table over :class:`LogStorage`: each operation runs under the store's lock, gets its ids
    from the log and appends only the documents it changed; cached query results are dropped when other
    processes changed the store."""

    _storage: LogStorage

    def __init__(self, storage: Storage, name: str, **kwargs: Any) -> None:
        super().__init__(storage, name, **kwargs)
        self._seen_generation = -1

    def _fresh_cache(self) -> None:
        self._storage.catch_up()
        if self._storage.generation != self._seen_generation:
            self.clear_cache()
            self._seen_generation = self._storage.generation

    def search(self, cond: Any) -> list[Any]:
        self._fresh_cache()
        return super().search(cond)

    def _get_next_id(self) -> int:
        # TinyDB caches the next id per Table object; other processes make that stale, so the first
        # id of every (locked) operation comes from the log.
        current: int | None = self._next_id
        next_id = self._storage.max_doc_id(self.name) + 1 if current is None else current
        self._next_id = next_id + 1  # type: ignore[assignment]
        return next_id

    def _update_table(self, updater: Callable[[dict[int, Any]], None]) -> None:
        storage = self._storage
        with storage.locked():
            raw = storage._tables.get(self.name, {})
            created = self.name not in storage._tables
            table = _TouchTracker((self.document_id_class(k), v) for k, v in raw.items())
            before = set(table)
            updater(table)
            after = set(table)
            deletes = [str(i) for i in before - after]
            puts = {}
            for i in table.touched & after:
                new = dict.__getitem__(table, i)
                old = raw.get(str(i))
                if old is None or _dumps(old) != _dumps(new):
                    puts[str(i)] = json.loads(_dumps(dict(new)))
            storage.apply_changes(self.name, puts, deletes, created)
        self.clear_cache()
        self._seen_generation = storage.generation


class LogTinyDB(TinyDB):
    """``TinyDB`` whose tables are :class:`LogTable` (use it with ``storage=LogStorage``)."""

    table_class = LogTable  # type: ignore[assignment]


class HashStore:
    """A content-addressed file store (md5; ``<root>/ab/cd/ef/<rest>`` for depth 3, width 2).

    >>> import tempfile, os
    >>> fs = HashStore(tempfile.mkdtemp())
    >>> p = os.path.join(fs.root, "..", "x.txt"); _ = open(p, "w").write("hi")
    >>> file_id = fs.put(p)
    >>> fs.open(file_id).read()
    b'hi'
    """

    def __init__(self, root: str | os.PathLike[str], depth: int = 3, width: int = 2) -> None:
        self.root = os.path.abspath(os.fspath(root))
        self.depth = depth
        self.width = width
        self._known: dict[tuple[str, int, int], str] = {}

    def path(self, file_id: str) -> str:
        """Where the file with this id lives (whether or not it exists)."""
        cut = self.depth * self.width
        parts = [file_id[i : i + self.width] for i in range(0, cut, self.width)]
        return os.path.join(self.root, *parts, file_id[cut:])

    def exists(self, file_id: str) -> bool:
        return os.path.isfile(self.path(file_id))

    def put(self, source: str | os.PathLike[str] | IO[bytes]) -> str:
        """Store a file (path or binary file object) and return its id (hex md5); duplicates are free."""
        if isinstance(source, (str, os.PathLike)):
            filename = os.path.abspath(os.fspath(source))
            st = os.stat(filename)
            key = (filename, st.st_mtime_ns, st.st_size)
            known = self._known.get(key)
            if known is not None and self.exists(known):
                return known
            with open(filename, "rb") as fh:
                file_id = self._put_stream(fh)
            self._known[key] = file_id
            return file_id
        return self._put_stream(source)

    def _put_stream(self, stream: IO[bytes]) -> str:
        os.makedirs(self.root, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".put.", suffix=".tmp")
        try:
            digest = hashlib.md5()
            with os.fdopen(fd, "wb") as out:
                for chunk in iter(lambda: stream.read(1 << 20), b""):
                    digest.update(chunk)
                    out.write(chunk)
            file_id = digest.hexdigest()
            target = self.path(file_id)
            if os.path.exists(target):
                os.unlink(tmp)
            else:
                os.makedirs(os.path.dirname(target), exist_ok=True)
                os.replace(tmp, target)
            return file_id
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def open(self, file_id: str) -> IO[bytes]:
        """Open a stored file for reading (binary); the caller closes it."""
        return open(self.path(file_id), "rb")
