"""``sacredx check-sweep``: is a sweep split over shards complete?

    sacredx check-sweep SWEEP --expect-cases FILE [--store URI …] [--allow-reruns] [--json]
    sacredx check-sweep SWEEP --from-collect [--store URI …] -- [PYTEST ARGS…]

``SWEEP`` is a sweep id (``--exp-sweep-id``, ``gh-<run id>`` in GitHub Actions), a prefix of one, or
``last``. ``--expect-cases`` reads the list ``pytest --collect-only --exp-list-cases FILE`` wrote;
``--from-collect`` runs that collection itself with the pytest arguments after ``--``. Shards that
each recorded into their own store give one ``--store`` each: the check reads the union. Exit status 0
when every expected case was recorded exactly once and nothing else was, 1 otherwise, 2 for bad input.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from typing import Any

from ..errors import SacredxError

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "check-sweep",
        help="check that every expected case of a sweep was recorded exactly once",
        description="Check that every expected case of a sweep was recorded exactly once.",
    )
    p.add_argument("sweep", help="sweep id, a prefix of one, or 'last'")
    p.add_argument("--store", action="append", default=[], metavar="URI",
                   help="store URI (default tinydb:.sacredx); repeat it for shards that each kept their "
                   "own store: the check reads their union")
    p.add_argument("--json", action="store_true", help="print JSON")
    how = p.add_mutually_exclusive_group(required=True)
    how.add_argument("--expect-cases", metavar="FILE", help="case ids, one per line (--exp-list-cases)")
    how.add_argument("--from-collect", action="store_true",
                     help="collect the expected cases with pytest (arguments after --)")
    p.add_argument("--allow-reruns", action="store_true",
                   help="accept cases recorded by more than one session (a re-run CI job); the latest counts")


def _collect(pytest_args: list[str]) -> list[str]:
    from ..query.sweep_check import read_expected

    with tempfile.TemporaryDirectory(prefix="sacredx-cases-") as tmp:
        out = os.path.join(tmp, "cases.txt")
        env = {k: v for k, v in os.environ.items() if k != "PYTEST_SACREDX_SHARD"}  # the whole sweep
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "--collect-only", "-q", "--exp-list-cases", out, *pytest_args],
            capture_output=True, text=True, env=env,
        )
        if proc.returncode != 0 or not os.path.exists(out):
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-10:])
            raise SacredxError(f"pytest --collect-only {' '.join(pytest_args)} failed (exit {proc.returncode}):\n{tail}")
        return read_expected(out)


def run(args: argparse.Namespace) -> int:
    from ..observers.readers import open_reader
    from ..query.sweep_check import check_sweep, read_expected, resolve_sweep

    if args.pytest_args and not args.from_collect:
        print(f"Error: unexpected arguments {' '.join(args.pytest_args)!r}; pytest arguments go after "
              "--from-collect --.", file=sys.stderr)
        return 2
    try:
        if args.expect_cases:
            expected = read_expected(args.expect_cases)
        else:
            expected = _collect(list(args.pytest_args))
    except OSError as e:
        print(f"Error: cannot read the expected cases {args.expect_cases!r}: {e}; write them with "
              "pytest --collect-only --exp-list-cases FILE.", file=sys.stderr)
        return 2
    except SacredxError as e:
        print(f"Error: {e}", file=sys.stderr)
        return 2
    stores = args.store or ["tinydb:.sacredx"]
    records: list[Any] = []
    for store in stores:
        try:
            reader = open_reader(store)
            try:
                records.extend(reader.list_runs())
            finally:
                close = getattr(reader, "close", None)
                if close is not None:
                    close()
        except (SacredxError, OSError, ValueError, ImportError) as e:
            print(f"Error: cannot read {store}: {e}", file=sys.stderr)
            return 2
    try:
        sweep = resolve_sweep(records, args.sweep)
    except SacredxError as e:
        print(f"Error: {', '.join(stores)}: {e}", file=sys.stderr)
        return 2
    result = check_sweep(records, sweep, expected, allow_reruns=args.allow_reruns)
    if args.json:
        print(json.dumps(result.to_json(), indent=2, sort_keys=True))
    else:
        from ..observers.redact import redact_url

        print("\n".join(result.lines(", ".join(redact_url(s) for s in stores))))
    return 0 if result.ok else 1
