"""The one detector of plaintext credentials, used at config load, by the guardrails and the review.

A value is a credential when it has a well-known token format (Databricks PAT, AWS key id, GitHub
and Slack tokens, a PEM private key) or is a URL that carries one: user info (``https://u:p@host``,
``https://TOKEN@host``), a secret-named query parameter (``?token=``, ``sig=``, ``api_key=``), an
incoming-webhook address whose path is the secret (Slack, Teams, Discord), or a long random path
segment. ``{{secrets/<scope>/<key>}}`` references are pointers, never credentials.

Config is bundled into the job wheel and copied into the synthesized JSON, so a credential found
there is refused when the config loads (exit 2), never shipped.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from mlops_spec.config.errors import Problem

SECRET_REFERENCE = re.compile(r"\{\{secrets/[^/{}]+/[^/{}]+\}\}")
TOKEN_FORMATS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("a Databricks personal access token", re.compile(r"\bdapi[0-9a-f]{32}\b")),
    ("an AWS access key id", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("a GitHub token", re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b|\bgithub_pat_[A-Za-z0-9_]{40,}")),
    ("a Slack token", re.compile(r"\bxox[baprs]-[A-Za-z0-9-]{10,}")),
    ("a private key", re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")),
)
_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s\"'<>]+", re.IGNORECASE)
_SECRET_PARAM = re.compile(
    r"(?i)^(token|access_token|auth|auth_token|api[_-]?key|apikey|key|secret|client_secret|password|"
    r"passwd|pwd|sig|signature|code|sas|x-amz-signature|x-amz-security-token)$"
)
# Incoming webhooks whose path is the credential: anyone holding the URL may post.
_WEBHOOK_HOSTS = re.compile(
    r"(?i)^(hooks\.slack\.com|[a-z0-9-]+\.webhook\.office\.com|outlook\.office(365)?\.com|"
    r"(discord|discordapp)\.com|chat\.googleapis\.com|api\.telegram\.org)$"
)
# Cheap first look: a string without any of these holds none of the credentials above.
_HINT = re.compile(r"dapi|AKIA|ASIA|gh[pousr]_|github_pat_|xox[baprs]-|PRIVATE KEY|://")
_RANDOM_SEGMENT = re.compile(r"^(?=[A-Za-z0-9_-]*\d)(?=[A-Za-z0-9_-]*[A-Za-z])[A-Za-z0-9_-]{24,}$")


def url_credential(url: str) -> str | None:
    """Why a URL carries a credential, or None."""
    try:
        parts = urlsplit(url)
        netloc, host = parts.netloc, (parts.hostname or "")
    except ValueError:
        return None
    if "@" in netloc:
        return "a URL with credentials in its user info"
    for name, _ in parse_qsl(parts.query, keep_blank_values=True):
        if _SECRET_PARAM.match(name):
            return f"a URL with a {name!r} query parameter"
    path = [s for s in parts.path.split("/") if s]
    if _WEBHOOK_HOSTS.match(host) and path:
        return f"an incoming-webhook URL ({host}), whose path is the credential"
    if any(_RANDOM_SEGMENT.match(s) for s in path):
        return "a URL with a token-like path segment"
    return None


def credential_hint(value: str) -> bool:
    """False when ``value`` certainly holds no credential (a cheap first look for large scans)."""
    return _HINT.search(value) is not None


def credential(value: Any) -> str | None:
    """What kind of credential a value holds (``"a GitHub token"``), or None."""
    if not isinstance(value, str) or not _HINT.search(value):
        return None
    text = SECRET_REFERENCE.sub("", value)
    for kind, pattern in TOKEN_FORMATS:
        if pattern.search(text):
            return kind
    for match in _URL.finditer(text):
        found = url_credential(match.group(0))
        if found:
            return found
    return None


def _walk(node: Any, path: tuple[str | int, ...]) -> Iterator[tuple[tuple[str | int, ...], str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _walk(value, (*path, str(key)))
    elif isinstance(node, list | tuple):
        for i, value in enumerate(node):
            yield from _walk(value, (*path, i))
    elif isinstance(node, str):
        found = credential(node)
        if found:
            yield path, found


def plaintext_secrets(data: Any, file: str) -> list[Problem]:
    """Every string in a config document that holds a credential, by key path (values never shown)."""
    return [
        Problem(
            file,
            path,
            f"holds {kind} in plain text; config is bundled into the job wheel and the synthesized "
            "stacks, so keep it in the environment's secret scope (secret_scopes in stacks/<env>.yaml) "
            "and let the job read it from there",
            show_value=False,
        )
        for path, kind in _walk(data, ())
    ]
