"""Sacred's ``sacred.stflow``: TensorFlow helpers. :class:`LogFileWriter` records the log directory
of every ``tf.summary.FileWriter`` created within it in the run's info (``info["tensorflow"]["logdirs"]``).

Importing this package does not import TensorFlow; the first ``LogFileWriter`` does.
"""

from __future__ import annotations

from .method_interception import LogFileWriter

__all__ = ["LogFileWriter"]
