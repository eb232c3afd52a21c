"""What the blueprints share: the store, the password hasher, the health provider."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from argon2 import PasswordHasher
from flask import current_app

from appliance.audit.chain_check import ChainCheck
from appliance.config import Config
from appliance.audit.report import WorkingHours
from appliance.store import Store
from webui.rate_limit import RateLimiter

HealthProvider = Callable[[], Mapping[str, Any]]


@dataclass
class WebState:
    """One per app, in `app.extensions["alpr"]`; whoever built the app closes `store`."""

    store: Store
    hasher: PasswordHasher
    health_provider: HealthProvider | None = None
    refresh_seconds: int = 5  # the latest-reads page refreshes itself; 0 turns that off
    reads_on_page: int = 50
    agency: str = ""  # the agency's ORI, written into every access record (POLICY LG-1)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(timezone.utc))  # tests pass a fake
    policy_file: str = ""  # the usage policy's Markdown file; "" = the shipped default (usage_policy.py)
    working_hours: WorkingHours = field(default_factory=WorkingHours)  # the audit report's off-hours flag
    config: Config = field(default_factory=Config)  # the config file's values; settings.py overlays the store's
    pull_limiter: RateLimiter = field(default_factory=RateLimiter)  # hub clients' requests per token (429)
    chain_check: ChainCheck = field(default_factory=ChainCheck)  # the audit page's walk of the access records


def web_state() -> WebState:
    """The current app's WebState."""
    return current_app.extensions["alpr"]
