"""Settings of the HTTP API server (flat, typed; the CLI fills them from its options)."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field

API_KEYS_ENV = "XINYU_API_KEYS"


def keys_from_env() -> list[str]:
    """API keys from ``XINYU_API_KEYS`` (comma-separated)."""
    return [k.strip() for k in os.environ.get(API_KEYS_ENV, "").split(",") if k.strip()]


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(slots=True)
class ServeSettings:
    """How the API server behaves.

    Attributes:
        api_keys: Accepted API keys (plus those in ``XINYU_API_KEYS``); none → open API.
        host: The address the server binds (only used to warn about open, non-loopback servers).
        model_names: Names clients may put in ``model`` (default: the backend's name).
        rate_limit_per_minute: Requests a minute per API key (per client address when open); 0 = off.
        rate_limit_burst: Requests allowed at once before the rate applies (default: the rate).
        max_body_bytes: Larger request bodies get 413.
        ui: Mount the web page at ``ui_path``.
        ui_path: Where the web page lives.
        cors_origins: Origins allowed to call the API from a browser (none by default).
        disconnect_poll_s: How often a waiting request checks whether its client went away.
    """

    api_keys: list[str] = field(default_factory=list)
    host: str = "127.0.0.1"
    model_names: list[str] = field(default_factory=list)
    rate_limit_per_minute: float = 60.0
    rate_limit_burst: int | None = None
    max_body_bytes: int = 1_000_000
    ui: bool = True
    ui_path: str = "/ui"
    cors_origins: list[str] = field(default_factory=list)
    disconnect_poll_s: float = 0.25

    def all_keys(self) -> list[str]:
        """Keys from the settings and the environment."""
        return [*self.api_keys, *keys_from_env()]
