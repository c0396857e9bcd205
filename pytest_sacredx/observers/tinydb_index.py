"""The run index of a TinyDB log: where each run's lines are, so that nobody replays the whole log.

A writer needs only the next document id and the end of the log; a reader listing the last ten runs needs
only their lines. Both get them from ``metadata.json.idx``, a sidecar file of fixed-size binary records,
one per log line, appended by the writer that appends the line (under the same lock):

- the header holds a magic number, the log's device and inode and the CRC-32 of its first line (a
  compaction replaces the log, so an index of another file is never taken for this one's);
- every record is ``(offset, length | kind << 40, document id, highest document id so far, running
  CRC)`` for one log line: ``DOC`` (a whole document of the ``runs`` table), ``PATCH`` (a change a
  listing needs), ``HEAVY`` (a change only to ``captured_out``/``metrics``, skipped unless those are
  asked for), ``DEL``, ``DROP``; every other line (the log's header, other tables, a damaged line) is
  ``SKIP``. The running CRC is the CRC-32 of the index file up to that point, so one CRC over the file
  (C speed) proves every record intact.

The index is a cache, never trusted blindly: it is used only when its header matches the log, its
running CRC matches, and its last record points at a complete log line of the kind and document it
claims; lines the log has beyond
the index (a writer killed between the two appends, a writer of an older version) are scanned and
indexed; a mismatch anywhere — including a record that turns out not to match its line when a run is
read — means the index is rebuilt from the log. Readers never write it (they keep what they scanned in
memory); the next writer repairs it under the lock.

>>> classify({"t": "runs", "id": 3, "ext": [[["metrics", "loss", "values"], [0.5]]]}, "runs")
(3, 3)
>>> classify({"t": "runs", "id": 3, "set": {"status": "COMPLETED"}}, "runs")
(2, 3)
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from collections.abc import Iterator
from typing import Any

from ..atomic import write_all
from ..fast_json import loads as json_loads

__all__ = [
    "SKIP", "DOC", "PATCH", "HEAVY", "DEL", "DROP", "RECORD", "classify", "RunIndex", "IndexFile",
    "StaleIndexError", "scan_lines", "checked_line", "check_line_bytes",
]

SKIP, DOC, PATCH, HEAVY, DEL, DROP = range(6)
RECORD = struct.Struct("<QQqII")  # offset, length | kind << 40, document id, max id, running CRC
_MAGIC = 0x5358494458303033  # "SXIDX003"
_LEN_MASK = (1 << 40) - 1
_HEAVY = frozenset({"captured_out", "metrics"})
_CHUNK = 4 << 20


class StaleIndexError(Exception):
    """The index does not describe the log (internal: the caller rebuilds it)."""


def classify(rec: Any, table: str) -> tuple[int, int]:
    """``(kind, document id)`` of one parsed log line, for the index of ``table``."""
    if not isinstance(rec, dict) or rec.get("t") != table:
        return SKIP, 0
    if "drop" in rec:
        return DROP, 0
    doc_id = rec.get("id")
    if doc_id is None:
        return SKIP, 0
    try:
        doc_id = int(doc_id)
    except (TypeError, ValueError):
        return SKIP, 0
    if "doc" in rec:
        return DOC, doc_id
    if rec.get("del"):
        return DEL, doc_id
    heavy = (
        all(k in _HEAVY for k in rec.get("set") or ())
        and all(k == "captured_out" for k in rec.get("cat") or ())
        and all(p and p[0] in _HEAVY for p, _ in rec.get("ext") or ())
    )
    return (HEAVY if heavy else PATCH), doc_id


def parse_line(raw: bytes) -> Any:
    try:
        return json_loads(raw)
    except ValueError:  # torn by a killed writer (or damaged)
        return None


def scan_lines(fd: int, start: int, end: int, table: str) -> Iterator[tuple[int, int, int, int]]:
    """``(offset, length, kind, document id)`` of each complete line in ``[start, end)`` of the log,
    read in chunks (memory stays flat whatever the log's size)."""
    pos = start
    carry = b""
    while pos < end:
        data = os.pread(fd, min(_CHUNK, end - pos), pos)
        if not data:
            break
        base = pos - len(carry)
        buf = carry + data
        pos += len(data)
        cut = buf.rfind(b"\n")
        if cut < 0:
            carry = buf
            continue
        line_start = 0
        while line_start <= cut:
            nl = buf.index(b"\n", line_start)
            raw = buf[line_start:nl]
            kind, doc_id = classify(parse_line(raw), table) if raw else (SKIP, 0)
            yield base + line_start, nl - line_start, kind, doc_id
            line_start = nl + 1
        carry = buf[cut + 1 :]


def _identity(fd: int) -> tuple[int, int, int]:
    st = os.fstat(fd)
    head = os.pread(fd, 512, 0)
    first = head.split(b"\n", 1)[0] if b"\n" in head else b""
    return st.st_dev, st.st_ino, zlib.crc32(first)


def _check_line(fd: int, off: int, length: int, kind: int, doc_id: int, table: str) -> bytes:
    """The line's bytes, if it is a complete line of the kind and document the index says."""
    return checked_line(fd, off, length, kind, doc_id, table)[0]


def checked_line(
    fd: int, off: int, length: int, kind: int, doc_id: int, table: str
) -> tuple[bytes, Any]:
    """The line's bytes and its decoded value (None for ``SKIP``), if it is a complete line of the
    kind and document the index says."""
    return check_line_bytes(os.pread(fd, length + 1, off), off, length, kind, doc_id, table)


def check_line_bytes(
    data: bytes, off: int, length: int, kind: int, doc_id: int, table: str
) -> tuple[bytes, Any]:
    """:func:`checked_line` of bytes already read from ``off`` (the line and its newline)."""
    if len(data) != length + 1 or data[-1:] != b"\n":
        raise StaleIndexError(f"no complete line at {off}")
    raw = data[:-1]
    if kind == SKIP:
        return raw, None
    parsed = parse_line(raw)
    got = classify(parsed, table)
    if got[0] != kind or (kind != DROP and got[1] != doc_id):
        raise StaleIndexError(f"line at {off} is {got}, the index says {(kind, doc_id)}")
    return raw, parsed


class RunIndex:
    """A reader's view of the index: for each live document id, its lines ``(offset, length, kind)``."""

    def __init__(self) -> None:
        self.lines: dict[int, list[tuple[int, int, int]]] = {}
        self.covered = 0
        self.max_id = 0

    def add(self, off: int, length: int, kind: int, doc_id: int) -> None:
        if kind == DOC:
            self.lines[doc_id] = [(off, length, DOC)]
        elif kind == PATCH or kind == HEAVY:
            known = self.lines.get(doc_id)
            if known is not None:
                known.append((off, length, kind))
        elif kind == DEL:
            self.lines.pop(doc_id, None)
        elif kind == DROP:
            self.lines.clear()
            self.max_id = 0
        if kind == DOC and doc_id > self.max_id:
            self.max_id = doc_id
        self.covered = off + length + 1

    def doc_ids(self) -> list[int]:
        return sorted(self.lines)


class IndexFile:
    """The sidecar index of one log file (``<log>.idx``): verify, read, extend, rebuild.

    ``parsed`` counts the log lines parsed to index them (tests use it to prove what was read).
    """

    def __init__(self, log_path: str, table: str) -> None:
        self.path = log_path + ".idx"
        self.table = table
        self.parsed = 0
        # what this process has verified of the index file: ((dev, ino), bytes, running CRC there)
        self._checked: tuple[tuple[int, int], int, int] | None = None
        # (dev, ino, size, mtime) of the index file right after this process's last append
        self._stamp: tuple[int, int, int, int] | None = None

    # -- reading (readers and writers) --------------------------------------------------------------

    def _records(self, log_fd: int) -> bytes | None:
        """The index's record bytes (header excluded) if it verifies and names this log, else None."""
        try:
            with open(self.path, "rb") as fh:
                data = fh.read()
        except (FileNotFoundError, NotADirectoryError, PermissionError, IsADirectoryError):
            return None
        if len(data) < HEADER.size or not _header_ok(data, log_fd):
            return None
        data = data[: len(data) - (len(data) - HEADER.size) % RECORD.size]  # drop a torn record
        if len(data) > HEADER.size and zlib.crc32(memoryview(data)[:-4]) != _last_crc(data):
            return None  # damaged somewhere: the running CRC of the last record does not match
        return data[HEADER.size :]

    def load(self, log_fd: int, size: int) -> RunIndex:
        """The index of the log's first ``size`` bytes: from the file where it verifies, the rest scanned."""
        index = RunIndex()
        body = self._records(log_fd)
        if body:
            off, lk, doc_id, _, _ = RECORD.unpack_from(body, len(body) - RECORD.size)
            try:
                if off + (lk & _LEN_MASK) + 1 > size:
                    raise StaleIndexError("the index covers more than the log holds")
                _check_line(log_fd, off, lk & _LEN_MASK, lk >> 40, doc_id, self.table)
            except StaleIndexError:
                body = None
        if body:
            lines = index.lines
            max_id = 0
            off = length = 0
            for off, lk, doc_id, _, _ in RECORD.iter_unpack(body):
                kind = lk >> 40
                if kind == DOC:
                    lines[doc_id] = [(off, lk & _LEN_MASK, DOC)]
                    if doc_id > max_id:
                        max_id = doc_id
                elif kind == PATCH or kind == HEAVY:
                    known = lines.get(doc_id)
                    if known is not None:
                        known.append((off, lk & _LEN_MASK, kind))
                elif kind == DEL:
                    lines.pop(doc_id, None)
                elif kind == DROP:
                    lines.clear()
                    max_id = 0
                length = lk & _LEN_MASK
            index.max_id = max_id
            index.covered = off + length + 1
        for off, length, kind, doc_id in scan_lines(log_fd, index.covered, size, self.table):
            self.parsed += 1
            index.add(off, length, kind, doc_id)
        return index

    def read_line(self, log_fd: int, entry: tuple[int, int, int], doc_id: int) -> dict[str, Any]:
        """One log line of a document, checked against what the index says it is."""
        off, length, kind = entry
        raw, parsed = checked_line(log_fd, off, length, kind, doc_id, self.table)
        return parsed if parsed is not None else json_loads(raw)  # decoded once, not twice

    # -- writing (under the log's lock) -------------------------------------------------------------

    def tail(self, log_fd: int) -> tuple[int, int] | None:
        """``(covered, max id)`` from the last record, if the index verifies against the log.

        The running CRC is checked over every byte this process has not checked yet (read in chunks:
        flat memory), so a writer repairs an index damaged anywhere, not only at its end."""
        self._stamp = None
        try:
            with open(self.path, "rb") as fh:
                head = fh.read(HEADER.size)
                if len(head) < HEADER.size or not _header_ok(head, log_fd):
                    return None
                st = os.fstat(fh.fileno())
                count = (st.st_size - HEADER.size) // RECORD.size
                end = HEADER.size + RECORD.size * count
                ident = (st.st_dev, st.st_ino)
                if self._checked and self._checked[0] == ident and self._checked[1] <= end:
                    pos, crc = self._checked[1], self._checked[2]
                else:
                    pos, crc = HEADER.size, zlib.crc32(head)
                if pos < end:  # records nobody in this process has checked yet
                    fh.seek(pos)
                    while pos < end - 4:
                        chunk = fh.read(min(end - 4 - pos, 1 << 18))
                        if not chunk:
                            return None
                        crc = zlib.crc32(chunk, crc)
                        pos += len(chunk)
                    last = fh.read(4)
                    if len(last) != 4 or crc != int.from_bytes(last, "little"):
                        return None
                    crc = zlib.crc32(last, crc)
                if count:
                    fh.seek(end - RECORD.size)
                    off, lk, doc_id, max_id, _ = RECORD.unpack(fh.read(RECORD.size))
        except (FileNotFoundError, NotADirectoryError, PermissionError, IsADirectoryError,
                struct.error):
            return None
        self._checked = (ident, end, crc)
        if st.st_size > end:  # a torn last record from a killed writer
            os.truncate(self.path, end)
        if not count:
            return 0, 0
        try:
            _check_line(log_fd, off, lk & _LEN_MASK, lk >> 40, doc_id, self.table)
        except StaleIndexError:
            self._checked = None
            return None
        return off + (lk & _LEN_MASK) + 1, max_id

    def append(self, records: list[tuple[int, int, int, int, int]]) -> None:
        """Append ``(offset, length, kind, document id, max id)`` records (under the log's lock, after
        :meth:`tail` or :meth:`rebuild`)."""
        assert self._checked is not None
        ident, end, crc = self._checked
        data, crc = _pack(records, crc)
        self._stamp = None
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            write_all(fd, data)
            st = os.fstat(fd)
        finally:
            os.close(fd)
        self._checked = (ident, end + len(data), crc)
        self._stamp = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)

    def unchanged(self) -> bool:
        """Whether the index file is still as this process's last :meth:`append` left it (a writer
        asks under the log's lock, to skip :meth:`tail`)."""
        if self._stamp is None:
            return False
        try:
            st = os.stat(self.path)
        except OSError:
            return False
        return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns) == self._stamp

    def rebuild(self, log_fd: int, start: int, end: int, max_id: int, fresh: bool) -> tuple[int, int]:
        """Index the complete lines of ``[start, end)``: a new index when ``fresh``, else appended.
        Streams the log; returns ``(covered, max id)``."""
        covered = start
        self._stamp = None
        if fresh:
            tmp = f"{self.path}.{os.getpid()}.tmp"
            out = open(tmp, "wb")  # noqa: SIM115 - renamed into place below
            header = _header(log_fd)
            out.write(header)
            crc = zlib.crc32(header)
            written = len(header)
        else:
            assert self._checked is not None
            out = open(self.path, "ab")  # noqa: SIM115
            _, written, crc = self._checked
        try:
            batch: list[tuple[int, int, int, int, int]] = []
            for off, length, kind, doc_id in scan_lines(log_fd, start, end, self.table):
                self.parsed += 1
                if kind == DROP:
                    max_id = 0
                elif kind == DOC:
                    max_id = max(max_id, doc_id)
                batch.append((off, length, kind, doc_id, max_id))
                covered = off + length + 1
                if len(batch) >= 8192:
                    data, crc = _pack(batch, crc)
                    out.write(data)
                    written += len(data)
                    batch.clear()
            data, crc = _pack(batch, crc)
            out.write(data)
            written += len(data)
            out.flush()
            if fresh:
                os.fsync(out.fileno())
        finally:
            out.close()
        if fresh:
            os.replace(tmp, self.path)
        st = os.stat(self.path)
        self._checked = ((st.st_dev, st.st_ino), written, crc)
        return covered, max_id


HEADER = struct.Struct("<QQQII")  # magic, log device, log inode, CRC of the log's first line, own CRC


def _header(log_fd: int) -> bytes:
    bare = struct.pack("<QQQI", _MAGIC, *_identity(log_fd))
    return bare + zlib.crc32(bare).to_bytes(4, "little")


def _header_ok(data: bytes, log_fd: int) -> bool:
    return data[: HEADER.size] == _header(log_fd)


def _last_crc(data: bytes) -> int:
    return int.from_bytes(data[-4:], "little")


def _pack(records: list[tuple[int, int, int, int, int]], crc: int) -> tuple[bytes, int]:
    """The records' bytes, each ending in the running CRC-32 of the index file up to it; and the
    running CRC after them."""
    pack, crc32 = _BARE.pack, zlib.crc32
    out = []
    for off, length, kind, doc_id, max_id in records:
        bare = pack(off, length | kind << 40, doc_id, max_id)
        crc = crc32(bare, crc)
        tail = crc.to_bytes(4, "little")
        out.append(bare + tail)
        crc = crc32(tail, crc)
    return b"".join(out), crc


_BARE = struct.Struct("<QQqI")


def fold(lines: list[dict[str, Any]], light: bool) -> dict[str, Any] | None:
    """A document from its log lines (a ``doc`` line, then patches); without the heavy fields if
    ``light``."""
    from .tinydb_bases import apply_patch

    doc: dict[str, Any] | None = None
    for rec in lines:
        if "doc" in rec:
            doc = dict(rec["doc"])
            continue
        if doc is None:
            continue
        set_, ext, cat = rec.get("set"), rec.get("ext"), rec.get("cat")
        if light:
            set_ = {k: v for k, v in (set_ or {}).items() if k not in _HEAVY}
            ext = [(p, items) for p, items in ext or () if not (p and p[0] in _HEAVY)]
            cat = {k: v for k, v in (cat or {}).items() if k != "captured_out"}
        apply_patch(doc, set_, ext, cat)
    if doc is not None and light:
        for key in _HEAVY:
            doc.pop(key, None)
    return doc



def entries_of(index: IndexFile, log_fd: int, doc_id: int) -> list[tuple[int, int, int]]:
    """The lines of one document, from the index file read in chunks (flat memory); the log is
    scanned instead if the index does not verify."""
    entries: list[tuple[int, int, int]] = []
    body = index._records(log_fd)

    def take(off: int, length: int, kind: int, did: int) -> None:
        nonlocal entries
        if kind == DROP:
            entries = []
        elif did != doc_id:
            return
        elif kind == DOC:
            entries = [(off, length, DOC)]
        elif kind == DEL:
            entries = []
        elif kind in (PATCH, HEAVY) and entries:
            entries.append((off, length, kind))

    covered = 0
    if body:
        for off, lk, did, _, _ in RECORD.iter_unpack(body):
            take(off, lk & _LEN_MASK, lk >> 40, did)
            covered = off + (lk & _LEN_MASK) + 1
    size = os.fstat(log_fd).st_size
    for off, length, kind, did in scan_lines(log_fd, covered, size, index.table):
        take(off, length, kind, did)
    return entries


def read_lines(index: IndexFile, log_fd: int, doc_id: int,
               entries: list[tuple[int, int, int]], light: bool) -> list[dict[str, Any]]:
    """The parsed lines of a document (``HEAVY`` ones skipped when ``light``), each checked."""
    return [index.read_line(log_fd, e, doc_id) for e in entries if not (light and e[2] == HEAVY)]


def read_doc(index: IndexFile, log_fd: int, doc_id: int, light: bool = False) -> dict[str, Any] | None:
    """One document folded from its lines (the index rebuilt in memory if it lied)."""
    try:
        return fold(read_lines(index, log_fd, doc_id, entries_of(index, log_fd, doc_id), light), light)
    except StaleIndexError:
        size = os.fstat(log_fd).st_size
        fresh = RunIndex()
        for off, length, kind, did in scan_lines(log_fd, 0, size, index.table):
            fresh.add(off, length, kind, did)
        entries = fresh.lines.get(doc_id)
        return None if entries is None else fold(
            read_lines(index, log_fd, doc_id, entries, light), light)


def find_run_lines(index: IndexFile, log_fd: int, end: int, run_id: Any,
                   dumps: Any) -> int | None:
    """The document id of the live document whose ``_id`` is ``run_id``, found by searching the log's
    bytes for the ``_id`` (streamed; only candidate lines are parsed)."""
    needles = {f'"_id":{dumps(run_id)}'.encode(), f'"_id":{json.dumps(run_id)}'.encode()}
    pos, carry_start, carry = 0, 0, b""
    seen: set[int] = set()
    while pos < end:
        data = os.pread(log_fd, min(_CHUNK, end - pos), pos)
        if not data:
            break
        buf = carry + data
        base = carry_start
        pos += len(data)
        for needle in needles:
            at = buf.find(needle)
            while at >= 0:
                start = buf.rfind(b"\n", 0, at) + 1
                stop = buf.find(b"\n", at)
                if stop >= 0:
                    rec = parse_line(buf[start:stop])
                    kind, doc_id = classify(rec, index.table)
                    if kind == DOC and doc_id not in seen and rec["doc"].get("_id") == run_id:
                        seen.add(doc_id)
                        doc = read_doc(index, log_fd, doc_id, light=True)
                        if doc is not None and doc.get("_id") == run_id:
                            return doc_id
                at = buf.find(needle, at + 1)
        cut = buf.rfind(b"\n")
        carry_start = base + cut + 1
        carry = buf[cut + 1 :]
    return None
