"""xdist plumbing: the controller picks the session seed and sweep id once and sends them to workers
(``workerinput``); results travel back on reports (``user_properties``, see ``report``).

Registered only when pytest-xdist is active.
"""

from __future__ import annotations

from typing import Any

import pytest

from .keys import SESSION_SEED, SWEEP_ID


class XdistHooks:
    """Hooks that exist only under xdist (pytest would reject unknown hook names otherwise)."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput["sacredx_seed"] = self.config.stash[SESSION_SEED]
        node.workerinput["sacredx_sweep_id"] = self.config.stash[SWEEP_ID]


def pytest_configure(config: pytest.Config) -> None:
    if config.pluginmanager.hasplugin("xdist") and not hasattr(config, "workerinput"):
        config.pluginmanager.register(XdistHooks(config), "sacredx-xdist")
