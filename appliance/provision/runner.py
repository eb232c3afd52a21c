"""Run the provisioning steps: check everything first, change things only when all checks pass.

The first pass is always a dry run. A failed check stops there, before any file is
touched, unless the installer forces it with a reason (which goes in the report):
a half-provisioned device on a pole is worse than one that was never touched.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone

from argon2 import PasswordHasher

from appliance.errors import AlprError
from appliance.provision.answers import Answers
from appliance.provision.checks import Check, Layout, failed
from appliance.provision.report import build_report, write_report
from appliance.provision.steps import STEPS, Context, Secrets, Step, lenient_config, with_hub_tls
from appliance.store.times import to_rfc3339

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    """What a run did: the checks, whether it finished, and (only in memory) the secrets shown once."""

    checks: list[Check]
    finished: bool
    dry_run: bool
    status: str  # "checked" (dry run), "refused", "complete", "forced" or "incomplete"
    report: dict | None = None
    secrets: Secrets | None = None


def provision(answers: Answers, layout: Layout, *, dry_run: bool = False, force_reason: str | None = None,
              now: datetime | None = None, hasher: PasswordHasher | None = None) -> Outcome:
    """Check, then (unless `dry_run`, or a check failed without `force_reason`) provision and write the report."""
    now = now or datetime.now(timezone.utc)
    answers = with_hub_tls(answers)
    cfg, problems = lenient_config(answers.config)

    def context(dry: bool) -> Context:
        return Context(answers, layout, dry, now, cfg, list(problems), hasher)

    plan = _run(context(True))
    if dry_run:
        return Outcome(plan, False, True, "checked")
    if any(c.failed for c in plan) and not force_reason:
        return Outcome(plan, False, False, "refused")
    ctx = context(False)
    try:
        done = _run(ctx)
    finally:
        ctx.close()
    bad = any(c.failed for c in done)
    status = "complete" if not bad else ("forced" if force_reason else "incomplete")
    report = build_report(checks=done, cfg=cfg, status=status, forced_reason=force_reason,
                          created_at=to_rfc3339(now), policy_version=answers.policy_version.strip(),
                          software_version=_version())
    write_report(report, layout.report_json, layout.report_html)
    log.info("provisioning %s; report in %s", status, layout.report_json)
    return Outcome(done, status in ("complete", "forced"), False, status, report, ctx.secrets)


def _run(ctx: Context) -> list[Check]:
    return [_guarded(step, ctx) for step in STEPS]


def _guarded(step: Step, ctx: Context) -> Check:
    """A step that raises becomes a failed check naming the error, so the report still says what happened."""
    try:
        return step(ctx)
    except (AlprError, OSError, ValueError) as exc:
        log.warning("provisioning step %s failed: %s", step.__name__, exc)
        return failed(step.__name__.replace("_", " "), f"{type(exc).__name__}: {exc}")


def _version() -> str:
    import appliance
    return appliance.version


