"""Sacred's ``sacred.metrics_logger`` module name, for code that imports the metrics classes directly.

>>> from pytest_sacredx.metrics_logger import MetricsLogger, linearize_metrics
>>> logger = MetricsLogger()
>>> logger.log_scalar_metric("loss", 0.5)
>>> linearize_metrics(logger.get_last_metrics())["loss"]["values"]
[0.5]
"""

from __future__ import annotations

from .run.metrics import MetricsLogger, ScalarMetricLogEntry, linearize_metrics

__all__ = ["MetricsLogger", "ScalarMetricLogEntry", "linearize_metrics"]
