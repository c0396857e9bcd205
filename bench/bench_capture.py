"""Benchmark fd-mode output capture: 100,000 printed lines, none may be lost, and how long it takes.

Each repetition runs a fresh Python whose stdout is a file (the "terminal" the tee must still reach).
Inside ``OutputCapture("fd")`` it prints N numbered lines; the time from entering the capture to leaving
it (so including the final drain) is measured in the child. Then every line must be in the captured
text and in the file. If a Sacred 0.8.7 venv exists (``/tmp/sacred-venv`` or ``$SACRED_PYTHON``), the
same is done with ``sacred.stdout_capturing.get_stdcapturer("fd")`` and the ratio is printed.

    python bench/bench_capture.py                 # 100,000 lines, 5 repetitions
    python bench/bench_capture.py --lines 20000 --repeat 3
    python bench/bench_capture.py --unbuffered    # keep PYTHONUNBUFFERED=1: one write per print call
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, sys, time
N = int(sys.argv[1]); which = sys.argv[2]; report_path = sys.argv[3]
if which == "sacredx":
    sys.path.insert(0, sys.argv[4])
    from pytest_sacredx.run.capture import OutputCapture
    capture = OutputCapture("fd")
    start = time.perf_counter()
    with capture:
        for i in range(N):
            print("line", i)
    elapsed = time.perf_counter() - start
    text = capture.get()
elif which == "sacred":
    from sacred.stdout_capturing import get_stdcapturer
    _, capturer = get_stdcapturer("fd")
    start = time.perf_counter()
    with capturer() as out:
        for i in range(N):
            print("line", i)
    elapsed = time.perf_counter() - start
    text = out.get()
else:  # no capture: the cost of printing itself
    start = time.perf_counter()
    for i in range(N):
        print("line", i)
    sys.stdout.flush()
    elapsed = time.perf_counter() - start
    text = None
with open(report_path, "w") as f:
    json.dump({"elapsed": elapsed, "text": text}, f)
"""


def run_once(
    python: str, which: str, lines: int, env: dict[str, str]
) -> tuple[float, int | None, int]:
    """One child run: (seconds, lines missing from the capture or None, lines missing from stdout)."""
    with tempfile.TemporaryDirectory() as tmp:
        out_path, report_path = Path(tmp, "stdout.txt"), Path(tmp, "report.json")
        with open(out_path, "wb") as out:
            subprocess.run(
                [python, "-c", CHILD, str(lines), which, str(report_path), str(REPO)],
                stdout=out,
                check=True,
                timeout=300,
                env=env,
            )
        report = json.loads(report_path.read_text())
        expected = [f"line {i}" for i in range(lines)]
        seen = out_path.read_text().splitlines()
        lost_tee = len(set(expected) - set(seen))
        lost_capture = None
        if report["text"] is not None:
            lost_capture = len(set(expected) - set(report["text"].splitlines()))
        return report["elapsed"], lost_capture, lost_tee


def measure(
    runners: list[tuple[str, str]], lines: int, repeat: int, env: dict[str, str]
) -> dict[str, float]:
    """Median seconds per implementation; repetitions are interleaved so load drifts hit all alike."""
    times: dict[str, list[float]] = {which: [] for _, which in runners}
    lost = {which: [0, 0] for _, which in runners}
    for _ in range(repeat):
        for python, which in runners:
            elapsed, missing_capture, missing_tee = run_once(python, which, lines, env)
            times[which].append(elapsed)
            lost[which][0] += missing_capture or 0
            lost[which][1] += missing_tee
    medians = {}
    for which, samples in times.items():
        medians[which] = median = statistics.median(samples)
        print(
            f"{which:>10}: median {median * 1e3:8.1f} ms over {repeat} runs "
            f"(min {min(samples) * 1e3:.1f}, max {max(samples) * 1e3:.1f}); "
            f"lines lost: capture {lost[which][0]}, stdout {lost[which][1]}"
        )
    return medians


def sacred_python() -> str | None:
    candidate = os.environ.get("SACRED_PYTHON", "/tmp/sacred-venv/bin/python")
    if not Path(candidate).exists():
        return None
    probe = subprocess.run(
        [candidate, "-c", "import sacred; print(sacred.__version__)"],
        capture_output=True,
        text=True,
    )
    return candidate if probe.returncode == 0 else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--unbuffered",
        action="store_true",
        help="keep PYTHONUNBUFFERED (two write calls per print) instead of clearing it",
    )
    args = parser.parse_args()
    env = dict(os.environ)
    if not args.unbuffered:
        env.pop("PYTHONUNBUFFERED", None)
    buffering = "unbuffered" if env.get("PYTHONUNBUFFERED") else "block-buffered"
    print(f"{args.lines:,} lines printed inside an fd capture, stdout ({buffering}) to a file")
    runners = [(sys.executable, "none"), (sys.executable, "sacredx")]
    sacred = sacred_python()
    if sacred is not None:
        runners.append((sacred, "sacred"))
    medians = measure(runners, args.lines, args.repeat, env)
    if sacred is None:
        print("    sacred: no Sacred venv (set SACRED_PYTHON or create /tmp/sacred-venv); skipped")
        return
    print(f"Sacred / sacredx time ratio: {medians['sacred'] / medians['sacredx']:.2f}x")


if __name__ == "__main__":
    main()
