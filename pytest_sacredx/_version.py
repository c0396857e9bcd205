"""The package's version, written once: ``pyproject.toml`` reads it at build time (setuptools'
``attr:``, parsed without importing the package), ``pytest_sacredx.__version__`` re-exports it, and any
module may import it from here without importing anything else.

>>> from pytest_sacredx._version import __version__
>>> __version__.count(".") >= 2
True
"""

__version__ = "0.1.0"
