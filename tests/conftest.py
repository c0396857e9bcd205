"""Shared fixtures. pytester drives the plugin in-process, so it is enabled for the whole suite."""

pytest_plugins = ["pytester"]
