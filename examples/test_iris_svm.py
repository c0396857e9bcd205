"""Ordinary tests that sweep the iris experiment and assert on its results.

    $ python -m pytest examples/test_iris_svm.py
"""

import pytest
from iris_svm import ex


@pytest.mark.experiment(ex, gamma=[0.1, 0.7], C=[1, 10])
def test_iris_svm_beats_chance(exp_run):
    run = exp_run()
    assert run.status == "COMPLETED"
    assert run.result > 0.8  # chance is 1/3


@pytest.mark.experiment(ex)
def test_same_seed_same_accuracy(exp_run, exp_seed):
    first = exp_run(seed=exp_seed).result
    assert exp_run(seed=exp_seed).result == first
