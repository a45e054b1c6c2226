"""Hypothesis profiles: CI runs a bounded, derandomised profile so that the suite is
reproducible and stays within minutes on 2 cores; locally, more examples."""

import os

from hypothesis import HealthCheck, Phase, settings

settings.register_profile(
    "ci",
    max_examples=40,
    deadline=None,
    derandomize=True,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
# For mutmut (README: Development): the ci examples, but a failing one is not shrunk and no
# example database is kept. The first failure already kills the mutant; shrinking it could
# outlast mutmut's timeout and report a killed mutant as "timeout", and a database shared
# by all mutants would make one mutant's result depend on the ones before it.
settings.register_profile(
    "mutmut",
    parent=settings.get_profile("ci"),
    phases=[Phase.explicit, Phase.generate],
    database=None,
)
settings.register_profile("dev", max_examples=100, deadline=None)
settings.register_profile("thorough", max_examples=2000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))
