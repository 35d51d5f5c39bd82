"""The widget tests' shared fixtures: the e2e suite's module sandbox (in memory, frozen clock,
its seed), for the modules that do not start one of their own."""

from tests.e2e.conftest import sandbox

__all__ = ["sandbox"]
