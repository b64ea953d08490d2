"""The contract tier calls the same live server as the e2e tier: the real container on a fresh
database, served in-process on a free port. Every e2e fixture comes along, so that whatever the
server fixture comes to depend on is here too."""

from tests.e2e.conftest import *  # noqa: F403
