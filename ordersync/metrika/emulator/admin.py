"""A small client for the emulator's admin API (``/_emulator/...``), for tests."""

from __future__ import annotations

import json
import urllib.request
from typing import Any
from urllib.parse import urlencode


class EmulatorAdmin:
    """Inspect and steer a running emulator over HTTP."""

    def __init__(self, base_url: str, timeout: float = 10.0):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def _call(self, method: str, action: str, data: Any = None, **query: Any) -> Any:
        url = f"{self.base_url}/_emulator/{action}"
        if query:
            url += "?" + urlencode(query)
        body = json.dumps(data).encode("utf-8") if data is not None else None
        request = urllib.request.Request(  # noqa: S310 - the URL is ours
            url,
            data=body,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
            return json.loads(response.read())

    def state(self) -> dict[str, Any]:
        """Return accounts, tokens, counters, uploadings, codes and faults."""
        return self._call("GET", "state")

    def reset(self) -> None:
        """Go back to the seed the emulator started with."""
        self._call("POST", "reset")

    def seed(self, seed: dict[str, Any]) -> None:
        """Replace the whole state with ``seed``."""
        self._call("POST", "seed", seed)

    def add_fault(self, kind: str, **rule: Any) -> dict[str, Any]:
        """Add one fault rule (see ``faults.Fault``); ``times=None`` means always."""
        return self._call("POST", "faults", {"kind": kind, **rule})["faults"][0]

    def clear_faults(self) -> None:
        """Remove every fault rule."""
        self._call("DELETE", "faults")

    def requests(self) -> dict[str, Any]:
        """Return request counts per endpoint and per counter, and the recent log."""
        return self._call("GET", "requests")

    def clear_requests(self) -> None:
        """Forget request counts and quota usage."""
        self._call("DELETE", "requests")

    def settings(self, **changes: Any) -> dict[str, Any]:
        """Change behaviour switches (see ``state.Settings``); return them all."""
        return self._call("POST", "settings", changes)

    def revoke(self, *, access_token: str | None = None, login: str | None = None):
        """Revoke a token, or every token of a login."""
        self._call("POST", "revoke", {"access_token": access_token, "login": login})

    def set_daily_used(self, login: str, used: int) -> None:
        """Set how many requests a login has made today."""
        self._call("POST", "quota", {"login": login, "daily_used": used})

    def advance_clock(self, seconds: float) -> float:
        """Move the emulator clock forward (codes and tokens expire by it)."""
        return self._call("POST", "clock", {"advance": seconds})["clock_offset"]

    def add_token(self, access_token: str, login: str, **fields: Any) -> None:
        """Add a token (``scopes``, ``expires_in``, ``refresh_token``, ...)."""
        self._call(
            "POST", "tokens", {"access_token": access_token, "login": login, **fields}
        )

    def orders(self, counter_id: int) -> dict[str, Any]:
        """Return the orders Metrika would hold for a counter."""
        return self._call("GET", "orders", counter_id=counter_id)
