"""Shared fixtures. pytester drives the plugin; service_fixtures gives the URLs of the real servers
that .ci/services.sh starts (PostgreSQL, moto's S3, the MongoDB wire server); dask_fixtures starts a
Dask scheduler and two workers for the executor tests."""

pytest_plugins = ["pytester", "service_fixtures", "dask_fixtures"]

try:  # imported once up front: pytester's in-process runs restore sys.modules afterwards, and NumPy
    import numpy  # noqa: F401 - first imported inside one (the run seeding does) could never load again
except ImportError:  # pragma: no cover
    pass
