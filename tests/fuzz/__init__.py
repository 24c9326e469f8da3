"""Property-based fuzzing of the notification endpoint's auth boundary (Hypothesis), and its regression set.

`FUZZ` is the settings every property here runs with: function-scoped fixtures (the JWKS server,
the database) are shared by all examples of one test, which is what we want; examples are not
stored (`database=None`) so a run leaves nothing behind. Set FUZZ_MAX_EXAMPLES for a longer hunt.
"""

import os

from hypothesis import HealthCheck, settings

FUZZ = settings(
    max_examples=int(os.environ.get("FUZZ_MAX_EXAMPLES", "300")),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
