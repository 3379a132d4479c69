"""Platform secrets from Secrets Manager through powertools Parameters, cached per container so
a warm Lambda does not fetch them on every request."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools.utilities import parameters

from chalicelib.domain.errors import StoreUnavailable

CACHE_SECONDS = 300  # a rotated secret is picked up within five minutes


@dataclass(frozen=True)
class PlatformSecrets:
    x_consumer_key: str = ""
    x_consumer_secret: str = ""
    x_access_token: str = ""
    x_access_token_secret: str = ""
    x_bearer_token: str = ""  # app-only: the listening poller's recent search, never a reply
    meta_app_secret: str = ""
    meta_verify_token: str = ""
    meta_page_token: str = ""
    whatsapp_token: str = ""
    admin_token: str = ""
    ack_signing_key: str = ""
    # Every other key: the brand accounts' own credentials, named in the policies file
    # (accounts[].credentials), e.g. x_help_token or page_uk_token.
    accounts: Mapping[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:  # never print a secret, even by accident in a traceback
        return "PlatformSecrets(<redacted>)"

    def signing_key(self) -> str:
        """The key that signs ack links and inbox cursors. Empty, every signature would be
        one anyone can compute: refuse to run rather than sign with it."""
        if not self.ack_signing_key:
            raise MissingSecret("ack_signing_key is missing or empty in the platform secret: "
                                "set it to a long random value")
        return self.ack_signing_key


class MissingSecret(RuntimeError):
    """A secret the code cannot run without is absent: a deployment error, not bad input."""


def parse_secrets(raw: Any) -> PlatformSecrets:
    """The secret's JSON as PlatformSecrets. Only a non-blank string is a value: `null`, an
    empty or blank string, and anything not a string (`false`, `0`, `{}`, a list) are missing
    (""). Turned into text they would be secrets anyone can guess (`Bearer False`)."""
    if not isinstance(raw, dict):
        raise MissingSecret("the platform secret is not a JSON object of keys")
    known = set(PlatformSecrets.__dataclass_fields__) - {"accounts"}
    values = {k: v for k, v in raw.items() if isinstance(v, str) and v.strip()}
    return PlatformSecrets(**{k: v for k, v in values.items() if k in known},
                           accounts={k: v for k, v in values.items() if k not in known})


def load_secrets(name: str, provider: parameters.SecretsProvider, *,
                 force_fetch: bool = False) -> PlatformSecrets:
    """The secret `name` through `provider` (powertools' reader, which caches it)."""
    try:
        raw: Any = provider.get(name, transform="json", max_age=CACHE_SECONDS,
                                force_fetch=force_fetch)
    except parameters.exceptions.GetParameterError as error:
        raise StoreUnavailable(f"read secret {name}: {type(error.__cause__).__name__}") from error
    return parse_secrets(raw)
