"""Property-based experiments on the iris SVM, with hypothesis drawing the configs.

    $ python -m pytest examples/test_iris_properties.py
    $ python -m pytest examples/test_iris_properties.py --exp-record-examples   # record every example

``configs(ex, …)`` draws config updates — the given strategies for gamma, C and train_size, every other
entry near its default, and the seed from hypothesis's own data, so a failing example replays and
shrinks like any other input. Only a falsifying example's run is recorded in the store.

The property one would write first — "for any gamma in [1e-3, 10] and C in [0.1, 100] the SVM trains and
beats chance" — is false, and hypothesis says so within a few examples: a strongly regularized model
(C=0.125, gamma=0.015625, train_size=60, seed=1) predicts one class and scores 0.32 < 1/3. So the
examples state what holds: over the whole range it trains and scores in [0, 1]; with C >= 1 and
gamma >= 0.01 it beats chance.
"""

import pytest
from hypothesis import given
from hypothesis import strategies as st
from iris_svm import ex

from pytest_sacredx.strategies import configs, experiment_settings


@pytest.mark.experiment(ex)
@experiment_settings(max_examples=15)
@given(updates=configs(ex, gamma=st.floats(1e-3, 10), C=st.floats(0.1, 100), train_size=st.integers(60, 120)))
def test_iris_svm_trains_without_error(exp_run, updates):
    run = exp_run(**updates)
    assert run.status == "COMPLETED"
    assert 0 <= run.result <= 1


@pytest.mark.experiment(ex)
@experiment_settings(max_examples=15)
@given(updates=configs(ex, gamma=st.floats(1e-2, 10), C=st.floats(1, 100), train_size=st.integers(60, 120)))
def test_iris_svm_beats_chance(exp_run, updates):
    assert exp_run(**updates).result > 1 / 3  # chance on three balanced classes
