"""A webhook sender for the signal tests: a blocking POST from whatever thread calls it, as a
sender in another process would, so the console's loop can be held meanwhile."""

from __future__ import annotations

import http.client
import json
from typing import Any
from urllib.parse import urlsplit


def post(url: str, body: dict[str, Any]) -> int:
    """POST ``body`` as JSON to ``url``; the answer's status."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    try:
        payload = json.dumps(body).encode()
        connection.request("POST", parts.path, payload, {"Content-Type": "application/json"})
        answer = connection.getresponse()
        answer.read()
        return answer.status
    finally:
        connection.close()
