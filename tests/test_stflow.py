"""TensorFlow helpers (``stflow/``): the method interception and LogFileWriter, with a stand-in for
``tf.summary.FileWriter`` (TensorFlow itself is not a test dependency)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from engine_helpers import QUIET, new_experiment

from pytest_sacredx.stflow import LogFileWriter, method_interception
from pytest_sacredx.stflow.internal import ContextMethodDecorator


class FileWriter:
    def __init__(self, logdir, graph=None):
        self.logdir = logdir


@pytest.fixture
def fake_tf(monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    tf = SimpleNamespace(summary=SimpleNamespace(FileWriter=FileWriter))
    monkeypatch.setattr(method_interception, "tf", tf)
    return tf


def test_the_method_is_intercepted_only_inside_and_restored_after_an_error() -> None:
    class Counter:
        def add(self, n):
            return n

    def doubled(instance, method, args, kwargs):
        return 2 * method(instance, *args, **kwargs)

    original = Counter.add
    with ContextMethodDecorator(Counter, "add", doubled):
        assert Counter().add(3) == 6 and Counter().add(n=4) == 8
    assert Counter.add is original
    with pytest.raises(KeyError), ContextMethodDecorator(Counter, "add", doubled):
        raise KeyError("inside")
    assert Counter.add is original


def test_nested_managers_intercept_once_and_the_outer_one_restores() -> None:
    calls = []

    class Thing:
        def run(self):
            return "ran"

    def seen(instance, method, args, kwargs):
        calls.append(1)
        return method(instance, *args, **kwargs)

    original = Thing.run
    with ContextMethodDecorator(Thing, "run", seen):
        with ContextMethodDecorator(Thing, "run", seen):
            Thing().run()
        Thing().run()  # the inner exit left the outer interception in place
    assert calls == [1, 1]
    assert Thing.run is original


def test_a_recursive_decorated_function_stays_intercepted_until_the_outermost_call_returns(fake_tf) -> None:
    ex = new_experiment()
    writer = LogFileWriter(ex)
    original = FileWriter.__init__

    @writer
    def write(depth):
        if depth:
            write(depth - 1)
        fake_tf.summary.FileWriter(f"depth{depth}")

    @ex.main
    def main(_run):
        write(2)
        return _run.info["tensorflow"]["logdirs"]

    assert ex.run(options=QUIET).result == ["depth0", "depth1", "depth2"]
    assert FileWriter.__init__ is original


def test_log_file_writer_records_positional_and_keyword_logdirs(fake_tf) -> None:
    ex = new_experiment()

    @ex.main
    @LogFileWriter(ex)
    def main(_run):
        fake_tf.summary.FileWriter("logs/a")
        with LogFileWriter(ex):  # nested: still recorded once
            fake_tf.summary.FileWriter(logdir="logs/b", graph=None)
        return list(_run.info["tensorflow"]["logdirs"])

    assert ex.run(options=QUIET).result == ["logs/a", "logs/b"]
    fake_tf.summary.FileWriter("outside")  # no run, no interception: nothing happens


def test_log_file_writer_as_a_context_manager_records_only_inside(fake_tf) -> None:
    ex = new_experiment()

    @ex.main
    def main(_run):
        fake_tf.summary.FileWriter("before")
        with LogFileWriter(ex):
            fake_tf.summary.FileWriter("inside")
        fake_tf.summary.FileWriter("after")
        return _run.info["tensorflow"]["logdirs"]

    assert ex.run(options=QUIET).result == ["inside"]


def test_without_tensorflow_the_error_says_what_to_install(monkeypatch) -> None:
    monkeypatch.setattr(method_interception, "tf", None)
    monkeypatch.setattr("pytest_sacredx.optional.has_tensorflow", False, raising=False)
    with pytest.raises(ImportError, match="pip install tensorflow"):
        LogFileWriter(new_experiment())
