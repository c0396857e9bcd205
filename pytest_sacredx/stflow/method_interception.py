"""``LogFileWriter``: a decorator and context manager that records TensorFlow log directories.

>>> # @ex.main
>>> # @LogFileWriter(ex)
>>> # def main():
>>> #     tf.summary.FileWriter("logs/run1")   # info["tensorflow"]["logdirs"] == ["logs/run1"]
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from .internal import ContextMethodDecorator

if TYPE_CHECKING:
    from ..experiment import Experiment

__all__ = ["LogFileWriter"]

#: The TensorFlow (v1 API) module whose ``summary.FileWriter`` is watched; imported by the first
#: LogFileWriter. Tests may set it to a stand-in.
tf: Any = None


def _tensorflow() -> Any:
    global tf
    if tf is None:
        from .. import optional

        if not optional.has_tensorflow:
            from ..errors import MissingExtraError

            raise MissingExtraError("LogFileWriter needs TensorFlow; install it with: pip install tensorflow")
        tf = optional.get_tensorflow()
    return tf


class LogFileWriter(contextlib.ContextDecorator, ContextMethodDecorator):
    """While active, every ``tf.summary.FileWriter(logdir, …)`` adds ``logdir`` to the current run's
    ``info["tensorflow"]["logdirs"]``. Use it as ``@LogFileWriter(ex)`` on a function or method, or as
    ``with LogFileWriter(ex):``."""

    def __init__(self, experiment: Experiment) -> None:
        self.experiment = experiment

        def record_logdir(instance: Any, original: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            result = original(instance, *args, **kwargs)
            logdir = kwargs["logdir"] if "logdir" in kwargs else args[0]
            info = self.experiment.info
            info.setdefault("tensorflow", {}).setdefault("logdirs", []).append(logdir)
            return result

        ContextMethodDecorator.__init__(self, _tensorflow().summary.FileWriter, "__init__", record_logdir)
