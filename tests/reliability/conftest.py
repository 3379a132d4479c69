"""The reliability suite reuses the integration fixtures (moto with every resource built)."""

from tests.integration.conftest import aws, embedded_aws  # noqa: F401
