"""Schemathesis hooks for tests/test_api_contract.py (loaded through SCHEMATHESIS_HOOKS).

Schemathesis draws an Idempotency-Key for a POST as it draws any header, so two different
requests often carry the same key ("0"), which the API rightly refuses (422: the key was
used for another request). A client makes a new key for each new request: so does this
hook, keeping the drawn key's form (a key drawn malformed stays as drawn, and must still
be refused).
"""

from __future__ import annotations

import itertools
import re
from typing import Any

import schemathesis

#: the form the API documents for the header (monitor.web.idempotency.KEY)
KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
_calls = itertools.count()


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    headers = case.headers or {}
    for name, value in list(headers.items()):
        if name.lower() == "idempotency-key" and isinstance(value, str) and KEY.match(value):
            headers[name] = f"{value[:240]}.{next(_calls)}"
