"""The plugin's own tests drive throwaway pytest projects through ``pytester``."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    # pytester is a built-in plugin that is off by default, and only the top-level conftest
    # may list plugins in ``pytest_plugins``: register it here, for this directory's tests.
    if not config.pluginmanager.has_plugin("pytester"):
        config.pluginmanager.import_plugin("pytester")
