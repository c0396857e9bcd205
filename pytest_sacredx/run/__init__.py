"""One run's life: config assembly, the ``Run`` object, captured functions, seeding, capture, metrics.

``from pytest_sacredx.run import Run`` is Sacred's ``from sacred.run import Run``.
"""

from .run import Run

__all__ = ["Run"]
