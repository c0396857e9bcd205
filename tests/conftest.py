"""Shared fixtures. pytester drives the plugin; service_fixtures gives the URLs of the real servers
that .ci/services.sh starts (PostgreSQL, moto's S3, the MongoDB wire server); dask_fixtures starts a
Dask scheduler and two workers for the executor tests.

Hypothesis runs under the suite's own profile, ``sacredx``, on every machine: the suite runs on busy
2-core machines, where wall-clock limits measure the neighbours, not the code. So no per-example
deadline and no ``too_slow`` health check; the search itself stays random (each failure prints the
seed and a blob that replays it). Tests whose claim is about behaviour rather than search pin their
examples with ``@settings(derandomize=True)``. ``--hypothesis-profile=default`` (or
``HYPOTHESIS_PROFILE=default``) gives hypothesis' own defaults back.

Signals start with the dispositions a terminal gives. A job started in the background of a
non-interactive shell (``cmd &`` in a script, as CI runners and load tests do) inherits SIGINT *ignored*,
and every process the suite starts would inherit that too: the tests that send Ctrl-C to a script would
then wait for an interrupt that can never come. So an ignored SIGINT or SIGTERM is given back its default
here, once, before any test runs.
"""

import os
import signal

from hypothesis import HealthCheck, settings

settings.register_profile(
    "sacredx",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "sacredx"))

for _signum, _default in ((signal.SIGINT, signal.default_int_handler), (signal.SIGTERM, signal.SIG_DFL)):
    if signal.getsignal(_signum) == signal.SIG_IGN:
        signal.signal(_signum, _default)

pytest_plugins = ["pytester", "service_fixtures", "dask_fixtures"]

try:  # imported once up front: pytester's in-process runs restore sys.modules afterwards, and NumPy
    import numpy  # noqa: F401 - first imported inside one (the run seeding does) could never load again
except ImportError:  # pragma: no cover
    pass

# The same for importlib_metadata, the backport that dask imports: on its first import it deletes the
# standard library's PathFinder.find_distributions and puts its own finder on sys.meta_path. Inside an
# in-process run, pytester then restores sys.meta_path without that finder, and from then on no
# distribution's entry points could be found: later in-process runs would load no sacredx plugin.
try:
    import importlib_metadata  # noqa: F401
except ImportError:  # pragma: no cover
    pass
