"""The reliability suite reuses the integration fixtures (moto with every resource built, the
fake platforms, an agent with a token)."""

from tests.integration.conftest import aws, embedded_aws  # noqa: F401
from tests.integration.test_agent_api import agent, platforms, social, two_teams  # noqa: F401
