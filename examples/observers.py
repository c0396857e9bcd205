"""Recording runs: observers attached in code, or chosen on the command line.

Attached in code (set RECORD_TO to a folder; the runs land in FileStorage's layout there)::

    $ RECORD_TO=runs python examples/observers.py with steps=3
    INFO - observers - Started run with ID "1"
    $ ls runs/1
    config.json  cout.txt  info.json  metrics.json  run.json

From flags — FileStorage (-F), TinyDB (-t), any store by URI (-O), several at once::

    $ python examples/observers.py -F runs
    $ python examples/observers.py -t runs_db -c "a comment stored with the run"
    $ python examples/observers.py -O sqlite:///runs.db -O file:runs
    $ sacredx list --store tinydb:runs_db
"""

import os

from pytest_sacredx import Experiment
from pytest_sacredx.observers import FileStorageObserver

ex = Experiment("observers")
if os.environ.get("RECORD_TO"):
    ex.observers.append(FileStorageObserver(os.environ["RECORD_TO"]))


@ex.config
def cfg():
    steps = 5  # how many values to log
    greeting = "hello"


@ex.main
def main(steps, greeting, _run):
    print(greeting)
    for step in range(steps):
        _run.log_scalar("value", step * step)
    _run.info["note"] = "info is stored with every heartbeat"
    return steps


if __name__ == "__main__":
    ex.run_commandline()
