"""Who is calling: app JWTs (RS256, checked like GitHub does) and installation tokens."""

from __future__ import annotations

import functools
import secrets
import string
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from .errors import ApiError, bad_credentials
from .state import AppRecord, Installation, State, Token, now

MAX_JWT_LIFETIME = 600
CLOCK_LEEWAY = 60
TOKEN_LIFETIME = timedelta(hours=1)
LEVELS = {"none": 0, "read": 1, "write": 2, "admin": 3}


@dataclass
class Auth:
    """The caller of one request."""

    kind: str  # "jwt" | "installation" | "none"
    app: AppRecord | None = None
    token: Token | None = None
    installation: Installation | None = None


def generate_private_key() -> str:
    """A fresh RSA 2048 private key in PEM, like the one GitHub offers for download."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()


def random_token(prefix: str, length: int = 36) -> str:
    """A GitHub-looking secret (`ghs_…`)."""
    alphabet = string.ascii_letters + string.digits
    return prefix + "".join(secrets.choice(alphabet) for _ in range(length))


def classify(header: str | None) -> tuple[str, str | None]:
    """Split an Authorization header into ("jwt" | "installation" | "none", credential)."""
    if not header:
        return "none", None
    scheme, _, credential = header.strip().partition(" ")
    credential = credential.strip()
    if scheme.lower() not in ("bearer", "token") or not credential:
        return "none", None
    return ("jwt" if credential.count(".") == 2 else "installation"), credential


@functools.lru_cache(maxsize=256)
def _public_key(private_key_pem: str) -> Any:
    # Loading a PEM checks the RSA key and takes ~70 ms; do it once per key.
    return serialization.load_pem_private_key(private_key_pem.encode(), password=None).public_key()


def _jwt_error(message: str) -> ApiError:
    return ApiError(401, message)


def verify_jwt(state: State, token: str) -> AppRecord:
    """The app whose key signed `token`; 401 with GitHub's messages otherwise."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise _jwt_error("A JSON web token could not be decoded") from exc
    issuer = str(claims.get("iss", ""))
    with state.lock:
        app = next((a for a in state.apps.values() if issuer in (str(a.id), a.client_id)), None)
    if app is None:
        raise _jwt_error("'Issuer' claim ('iss') must be an Integer")
    public_key = _public_key(app.private_key_pem)
    try:
        claims = jwt.decode(
            token,
            public_key,
            algorithms=["RS256"],
            options={"require": ["iat", "exp", "iss"], "verify_exp": False, "verify_iat": False},
        )
    except jwt.PyJWTError as exc:
        raise _jwt_error("A JSON web token could not be decoded") from exc
    moment = now().timestamp()
    iat, exp = claims["iat"], claims["exp"]
    if not isinstance(exp, int | float) or exp <= moment:
        raise _jwt_error(
            "'Expiration time' claim ('exp') must be a numeric value representing the future "
            "time at which the assertion expires"
        )
    if not isinstance(iat, int | float) or iat > moment + CLOCK_LEEWAY:
        raise _jwt_error(
            "'Issued at' claim ('iat') must be an Integer representing the time that the "
            "assertion was issued"
        )
    if exp - iat > MAX_JWT_LIFETIME or exp > moment + MAX_JWT_LIFETIME + CLOCK_LEEWAY:
        raise _jwt_error("'Expiration time' claim ('exp') is too far in the future")
    return app


def resolve_token(state: State, credential: str) -> Auth:
    """The installation behind an installation token; 401/403 like GitHub otherwise."""
    with state.lock:
        token = state.tokens.get(credential)
        if token is None or token.expires_at <= now():
            raise bad_credentials()
        inst = state.installations.get(token.installation_id)
        if inst is None:
            raise bad_credentials()
        if inst.suspended_at is not None:
            raise ApiError(403, "This installation has been suspended")
        return Auth("installation", state.apps[inst.app_id], token, inst)


def revoke_tokens(state: State, installation_id: int) -> int:
    """Revoke every token of an installation before its expiry, as GitHub does when the app
    is reinstalled or its permissions change; answers how many there were. Calls made with
    them then get 401 "Bad credentials"; a new token can be fetched at once."""
    with state.lock:
        revoked = [k for k, t in state.tokens.items() if t.installation_id == installation_id]
        for key in revoked:
            del state.tokens[key]
    return len(revoked)


def allows(granted: dict[str, str], perm: str) -> bool:
    """Whether `granted` satisfies `perm`, written `contents:write` or `issues|pull_requests:write`."""
    names, _, level = perm.partition(":")
    need = LEVELS[level or "read"]
    return any(LEVELS.get(granted.get(name, "none"), 0) >= need for name in names.split("|"))
