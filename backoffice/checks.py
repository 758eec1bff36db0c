"""System checks that say exactly which environment variable to set (see .env.example)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Warning, register

from backoffice import crypto

GENERATE_FERNET = (
    "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`"
)

_KEY_HINT = (
    f"Set TOKEN_ENCRYPTION_KEYS to a Fernet key, generated with {GENERATE_FERNET}. "
    "Keep it safe: tokens stored with it cannot be read without it."
)
PLACEHOLDER_PREFIX = "replace-me"
LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "[::1]", "::1"}


@register("security", deploy=False)
def check_secrets(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    msgs: list[Error] = []
    dev_key = getattr(settings, "DEV_SECRET_KEY", None)
    production = not settings.DEBUG

    key = settings.SECRET_KEY
    if production and (key == dev_key or key.startswith(PLACEHOLDER_PREFIX)):
        msgs.append(
            Error(
                "SECRET_KEY is the public development key or the .env.example placeholder.",
                hint="Set SECRET_KEY to a long random value, e.g. the output of "
                "`python -c 'import secrets; print(secrets.token_urlsafe(50))'`.",
                id="backoffice.E001",
            )
        )

    keys = crypto.configured_keys()
    bad = crypto.invalid_keys()
    if bad:
        msgs.append(
            Error(
                f"TOKEN_ENCRYPTION_KEYS has {len(bad)} invalid Fernet key(s) (position(s) "
                f"{', '.join(str(i + 1) for i in bad)}).",
                hint=f"Each key must be 32 url-safe base64 bytes; generate one with {GENERATE_FERNET}.",
                id="backoffice.E002",
            )
        )
    elif not keys and production:
        msgs.append(
            Error(
                "TOKEN_ENCRYPTION_KEYS is empty: Reverb tokens would be encrypted with a key derived "
                "from SECRET_KEY.",
                hint=_KEY_HINT,
                id="backoffice.E003",
            )
        )
    return msgs


@register("security", deploy=True)
def check_development_key(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    # Only under --deploy: in development the derived key is the intended default, and a warning on
    # every management command would teach people to ignore warnings.
    if settings.DEBUG and not crypto.configured_keys():
        return [
            Warning(
                "TOKEN_ENCRYPTION_KEYS is empty: Reverb tokens are encrypted with a development key "
                "derived from SECRET_KEY.",
                hint=_KEY_HINT,
                id="backoffice.W001",
            )
        ]
    return []


@register("security", deploy=True)
def check_deployment(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    if settings.DEBUG:
        return []
    msgs: list[Warning] = []
    if not set(settings.ALLOWED_HOSTS) - LOOPBACK_HOSTS:
        msgs.append(
            Warning(
                "ALLOWED_HOSTS only lists loopback names: the site will refuse its public host name.",
                hint="Set ALLOWED_HOSTS to the host name(s) staff use, comma separated.",
                id="backoffice.W002",
            )
        )
    if settings.EMAIL_BACKEND.endswith("console.EmailBackend"):
        msgs.append(
            Warning(
                "Email goes to the console: error reports and password resets are never delivered.",
                hint="Set EMAIL_URL, e.g. smtp+tls://user:password@mail.example.com:587.",
                id="backoffice.W003",
            )
        )
    if not settings.ADMINS:
        msgs.append(
            Warning(
                "ADMINS is empty: nobody is emailed when the server fails.",
                hint="Set ADMIN_EMAILS to one or more addresses, comma separated.",
                id="backoffice.W004",
            )
        )
    return msgs
