"""pytest-sacredx: Sacred's experiment API, rebuilt as a pytest plugin."""

__version__ = "0.1.0"
