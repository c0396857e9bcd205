"""Seeds as a sweep axis: ``--exp-seeds N`` runs every variant with N seeds and summarizes them.

- Each variant becomes N cases, ids ``…-seed0`` … ``…-seed{N-1}`` (``toy[C=1-seed0]``; ``toy[seed0]``
  for the default variant). Ini ``sacredx_seeds`` gives a default N.
- Seed ``i`` is ``derive_seed(session_seed, f"seed{i}")`` — the same for every variant, so variants are
  compared on paired seeds (``C=1-seed3`` and ``C=10-seed3`` see the same data split), and one printed
  session seed reproduces all of them. An explicit ``seed=`` in a variant wins; a pinned baseline seed
  (``--exp-regression``) wins too.
- The terminal summary gains a section "experiment seeds": per variant and per key (the result when it
  is a number, and each final metric) the count, mean ± sample standard deviation, min and max.

Example::

    $ pytest examples/iris_svm.py --exp-config gamma=0.1,0.7 --exp-seeds 5
    ============================ experiment seeds =============================
    variant                      key       n  mean ± std        min     max
    iris_rbf_svm[gamma=0.1]      result    5  0.9533 ± 0.0183   0.9333  0.9833
"""

from __future__ import annotations

import math
import re
import statistics
from collections import defaultdict
from typing import TYPE_CHECKING, Any

import attrs
import pytest

from ..run.seeding import derive_seed
from .keys import SEED_COUNT, VARIANT, CaseResult

if TYPE_CHECKING:
    from ..experiment import Experiment
    from .sweep import Variant

__all__ = ["seed_for_index", "group_rows", "summarize"]

_SEEDS = SEED_COUNT
_SEED_ID = re.compile(r"(?P<base>.*?)-?seed\d+\]\Z")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("sacredx", "experiments (pytest-sacredx)")
    group.addoption(
        "--exp-seeds",
        dest="sacredx_seeds",
        default=None,
        metavar="N",
        help="Run every variant with N seeds (ids …-seed0…); seed i is shared by all variants. The "
        "summary shows mean ± std, min and max per variant.",
    )
    parser.addini("sacredx_seeds", "Default of --exp-seeds.", default=None)


def pytest_configure(config: pytest.Config) -> None:
    raw = config.getoption("sacredx_seeds") or config.getini("sacredx_seeds")
    count = 0
    if raw not in (None, ""):
        try:
            count = int(str(raw).strip())
        except ValueError:
            count = -1
        if count < 0:
            raise pytest.UsageError(f"--exp-seeds={raw!r}: give a number of seeds, e.g. --exp-seeds 5.")
    config.stash[_SEEDS] = count


def seed_for_index(session_seed: int, index: int) -> int:
    """The ``index``-th seed of a seed sweep: shared by all variants (paired comparisons)."""
    return derive_seed(session_seed, f"seed{index}")


def pytest_sacredx_modify_variants(config: pytest.Config, experiment: Experiment, variants: list[Variant]) -> None:
    count = config.stash.get(_SEEDS, 0)
    if count:
        variants[:] = [attrs.evolve(v, seed_index=i) for v in variants for i in range(count)]


def pytest_sacredx_case_seed(item: pytest.Item, session_seed: int) -> int | None:
    variant = item.stash.get(VARIANT, None)
    if variant is None or variant.seed_index is None:
        return None
    return seed_for_index(session_seed, variant.seed_index)


# ----------------------------------------------------------------------------------- summary
def variant_label(case_id: str) -> str | None:
    """``f.py::toy[C=1-seed2]`` → ``toy[C=1]``; ``toy[seed0]`` → ``toy``; None outside a seed sweep."""
    name = case_id.split("::")[-1]
    m = _SEED_ID.match(name)
    if m is None:
        return None
    base = m.group("base")
    return base[:-1] if base.endswith("[") else base + "]"


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def group_rows(rows: list[CaseResult]) -> dict[str, dict[str, list[float]]]:
    """Numeric values per variant and key (``result`` and each metric), over the variant's seeds."""
    groups: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        label = variant_label(row.case_id)
        if label is None:
            continue
        result = _number(row.result)
        if result is not None:
            groups[label]["result"].append(result)
        for name, value in sorted(row.metrics.items()):
            number = _number(value)
            if number is not None:
                groups[label][name].append(number)
    return {k: dict(v) for k, v in sorted(groups.items())}


def summarize(values: list[float]) -> tuple[int, float, float, float, float]:
    """(n, mean, sample std — 0 for one value, min, max)."""
    finite = [v for v in values if not math.isnan(v)]
    if not finite:
        return len(values), math.nan, math.nan, math.nan, math.nan
    std = statistics.stdev(finite) if len(finite) > 1 else 0.0
    return len(values), statistics.fmean(finite), std, min(finite), max(finite)


@pytest.hookimpl(trylast=True)  # after the runs table
def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    from .report import ROWS, summary_mode

    if not config.stash.get(_SEEDS, 0) or summary_mode(config) == "no":
        return
    groups = group_rows(config.stash[ROWS] if ROWS in config.stash else [])
    if not groups:
        return
    header = ["variant", "key", "n", "mean ± std", "min", "max"]
    table = []
    for label, keys in groups.items():
        for key, values in keys.items():
            n, mean, std, lo, hi = summarize(values)
            table.append([label, key, str(n), f"{mean:.4g} ± {std:.2g}", f"{lo:.4g}", f"{hi:.4g}"])
    widths = [max(len(h), *(len(r[i]) for r in table)) for i, h in enumerate(header)]
    terminalreporter.section("experiment seeds")
    for row in [header, *table]:
        terminalreporter.write_line("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
