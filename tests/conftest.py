"""Shared fixtures. pytester drives the plugin; service_fixtures gives the URLs of the real servers
that .ci/services.sh starts (PostgreSQL, moto's S3, the MongoDB wire server); dask_fixtures starts a
Dask scheduler and two workers for the executor tests."""

pytest_plugins = ["pytester", "service_fixtures", "dask_fixtures"]
