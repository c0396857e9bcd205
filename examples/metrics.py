"""Metrics: ``log_scalar`` inside a run, flushed with every heartbeat and at the end.

    $ python examples/metrics.py -F runs with epochs=4
    $ python -c "import json; print(json.load(open('runs/1/metrics.json'))['loss']['values'])"
    [1.0, 0.5, 0.333..., 0.25]

Steps count per metric from 0 unless given; ``ex.log_scalar`` works anywhere inside the run.
"""

from pytest_sacredx import Experiment

ex = Experiment("metrics")


@ex.config
def cfg():
    epochs = 10  # training epochs


@ex.capture
def train_one_epoch(epoch):
    return 1.0 / (epoch + 1)


@ex.automain
def main(epochs, _run):
    for epoch in range(epochs):
        loss = train_one_epoch(epoch)
        _run.log_scalar("loss", loss)  # step 0, 1, 2, …
        ex.log_scalar("accuracy", 1 - loss / 2, step=epoch * 100)
    return loss
