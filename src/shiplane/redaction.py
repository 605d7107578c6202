"""The one rule for what shiplane never prints: which values are sensitive, and how to hide them.

A value is sensitive when it came from a secret source (the caller knows those and passes
them to `scrub`), when the name it is bound to marks it (a variable, key, flag or option
called *password*, *token*, *secret*, *key*, *credential*, a DSN …), or when the value
itself is a credential (a URL with user:password@, a private key, a well-known token
format). Messages name the key and the position, never such a value: `describe` stands in
for the value, `scrub` is the safety net over text that may quote one.

Used by spec (validation messages), importing (what moves to `.shiplane-secrets/`, reports,
errors), policy (the secret rules) and the CLI. Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

REDACTED = "<redacted>"

# Names that hold a secret. Deliberately broad: a name wrongly taken as secret costs a
# `<redacted>` in a message or a Secret instead of an env literal, a leak costs much more.
SENSITIVE_NAME = re.compile(
    r"(PASS(WORD|WD|PHRASE)?(?![A-Z])|PWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|ACCESS_?KEY|SECRET_?KEY|CREDENTIALS?"
    r"|(?<![A-Z])(AUTH|PW)(?![A-Z])|SALT"
    r"|_KEY$|^KEY$|DSN$|SIGNING|CERT_?KEY)",
    re.I,
)
# Names that point at a secret (a path, a file, a length, a type) rather than hold one.
REFERENCE_NAME = re.compile(
    r"(_FILE|_PATH|_DIR|_LENGTH|_ALGO(RITHM)?|_METHOD|_TYPE|_ENABLED|_EXPIRY|_TTL|_URL_ENV|_NAME|_ID|_HEADER)$", re.I
)
# Values that are credentials whatever they are called.
CREDENTIAL_VALUE = re.compile(
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----"
    r"|\bAKIA[0-9A-Z]{16}\b"
    r"|\bgh[pousr]_[A-Za-z0-9]{36}\b"
    r"|\bxox[abprs]-[A-Za-z0-9-]{10,}"
    r"|\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\."
    r"|://[^/\s:@]*:[^/\s@]+@"
    # the same user:password@host without a scheme (`admin:pw@db:5432`, a DSN some clients take)
    r"|(?:^|[\s=\"'])[\w.~%+-]+:[^\s/@:]+@[A-Za-z][\w.-]*"
)
_PLAIN_URL = re.compile(r"^[a-z][a-z0-9+.-]*://[^@\s]*$", re.I)
_WORD = re.compile(r"[^A-Za-z0-9]+")
# Values of fewer characters are not searched for inside other text by `scrub` (a one-letter
# "password" would blank every message); they are still never printed where their name is known.
MIN_SCRUB = 3


def normalized_name(name: Any) -> str:
    """`--db-password`, `db.password`, `dbPassword` → comparable upper-case words with `_`."""
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", str(name))
    return _WORD.sub("_", text).strip("_").upper()


def sensitive_name(name: Any) -> bool:
    """A variable, key, flag or option name that marks its value as a secret."""
    n = normalized_name(name)
    return bool(n) and bool(SENSITIVE_NAME.search(n)) and not REFERENCE_NAME.search(n)


def credential(value: Any) -> bool:
    """The value is a credential on its own (URL with a password, private key, token formats)."""
    return isinstance(value, str) and bool(CREDENTIAL_VALUE.search(value))


def placeholder(value: str) -> bool:
    """Not a secret even under a secret name: templating (${X}, $(X), {{ x }}, <x>), paths,
    numbers, booleans and URLs without credentials."""
    v = value.strip()
    if not v or v[0] in "$<{%/" or v.isdigit() or _PLAIN_URL.match(v):
        return True
    return v.lower() in ("changeme", "none", "null", "true", "false", "yes", "no")


def looks_secret(name: Any, value: Any) -> bool:
    """A value to keep out of specs and messages: a credential, or a real value under a secret name."""
    if not isinstance(value, str):
        return False
    return credential(value) or (sensitive_name(name) and not placeholder(value))


def sensitive_path(path: Iterable[Any]) -> bool:
    """A field path (`secrets.db`, `services.web.env.DB_PASSWORD`) whose value must not be shown."""
    return any(part == "secrets" or (isinstance(part, str) and sensitive_name(part)) for part in path)


def describe(value: Any, *, sensitive: bool = False, limit: int = 40) -> str:
    """How a message shows a found value: its type for containers, `<redacted>` when sensitive,
    else a short repr."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if (sensitive or credential(value)) and value is not None and not isinstance(value, bool):
        return REDACTED
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


Values = Iterable[str] | re.Pattern[str] | None


def pattern(values: Iterable[str]) -> re.Pattern[str] | None:
    """One compiled alternation of the secret values (longest first): callers that scrub many
    texts compile once, so the cost stays linear in the text, not texts times values."""
    known = sorted({v for v in values if isinstance(v, str) and len(v) >= MIN_SCRUB}, key=len, reverse=True)
    return re.compile("|".join(map(re.escape, known))) if known else None


def _compiled(values: Values) -> re.Pattern[str] | None:
    return values if isinstance(values, re.Pattern) or values is None else pattern(values)


_URL_PASSWORD = re.compile(r"(://[^/\s:@]*:)[^/\s@]+@")


def scrub(text: str, values: Values) -> str:
    """`text` with every known secret value (and every credential URL's password) replaced."""
    p = _compiled(values)
    if p is not None:
        text = p.sub(REDACTED, text)
    return _URL_PASSWORD.sub(rf"\1{REDACTED}@", text)


def scrub_tree(value: Any, values: Values) -> Any:
    """`scrub` over every string of a nested dict/list (keys included)."""
    p = _compiled(values)
    if isinstance(value, str):
        return scrub(value, p)
    if isinstance(value, dict):
        return {scrub_tree(k, p): scrub_tree(v, p) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(scrub_tree(v, p) for v in value)
    return value


def contains(value: Any, values: Values) -> bool:
    """Whether any string inside `value` still holds one of the secret `values`."""
    p = _compiled(values)
    if p is None:
        return False
    if isinstance(value, str):
        return p.search(value) is not None
    if isinstance(value, dict):
        return any(contains(k, p) or contains(v, p) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(contains(v, p) for v in value)
    return False
