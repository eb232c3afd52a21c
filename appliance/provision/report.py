"""The provisioning report: JSON for the agency's records and a printable HTML page for the binder.

It proves what was done at the pole: every check with its outcome, the config summary,
the certificate fingerprints and the policy version. It never holds a secret: the
password and TOTP key are shown once on the terminal only (the test checks both files).
The HTML page is one self-contained file (inline style, no scripts, no external assets).
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from appliance.atomic_file import replace_file
from appliance.config import Config
from appliance.provision.checks import Check

FORMAT = "alpr-provision-report/1"


def config_summary(cfg: Config) -> dict[str, Any]:
    """The parts of the config an inspector checks (no secret is ever in the config)."""
    return {
        "device": {"id": cfg.device.id, "site_name": cfg.device.site_name},
        "location": {"lat": cfg.location.lat, "lon": cfg.location.lon, "heading_deg": cfg.location.heading_deg},
        "camera": {"backend": cfg.camera.backend, "source": cfg.camera.source, "width": cfg.camera.width,
                   "height": cfg.camera.height, "fps": cfg.camera.fps, "camera_id": cfg.camera.camera_id},
        "hub": {"url": cfg.hub.url or None},
        "web": {"host": cfg.web.host, "port": cfg.web.port, "tls": cfg.web.tls},
        "store": {"path": str(cfg.store.path)},
    }


def build_report(*, checks: list[Check], cfg: Config, status: str, forced_reason: str | None, created_at: str,
                 policy_version: str, software_version: str) -> dict[str, Any]:
    """The report as a JSON-ready dict."""
    facts: dict[str, Any] = {}
    for c in checks:
        facts.update(c.facts)
    return {
        "format": FORMAT,
        "created_at": created_at,
        "software_version": software_version,
        "status": status,
        "forced_reason": forced_reason,
        "checks": [{"name": c.name, "status": c.status, "detail": c.detail, "facts": c.facts} for c in checks],
        "config": config_summary(cfg),
        "fingerprints": {"device_key_sha256": facts.get("device_key_sha256"),
                         "ui_certificate_sha256": facts.get("ui_certificate_sha256")},
        "policy_version": policy_version or None,
        "administrator": {"username": facts.get("username"), "mfa_enrolled": bool(facts.get("mfa_enrolled")),
                          "training_expires": facts.get("expires")},
    }


def write_report(report: dict[str, Any], json_path: Path, html_path: Path) -> None:
    """Write both files (0644), each atomically."""
    _write(json_path, json.dumps(report, indent=2, sort_keys=False) + "\n")
    _write(html_path, render_html(report))


def render_html(r: dict[str, Any]) -> str:
    """One printable page; every value is escaped."""
    e = lambda v: html.escape("" if v is None else str(v))  # noqa: E731
    cfg = r["config"]
    rows = "".join(f'<tr class="{e(c["status"])}"><td>{e(c["name"])}</td><td>{e(c["status"])}</td>'
                   f'<td>{e(c["detail"])}</td></tr>' for c in r["checks"])
    conf = "".join(f"<tr><th>{e(s)}.{e(k)}</th><td>{e(v)}</td></tr>"
                   for s, table in cfg.items() for k, v in table.items())
    fps = "".join(f"<tr><th>{e(k)}</th><td><code>{e(v or 'none')}</code></td></tr>" for k, v in r["fingerprints"].items())
    forced = (f'<p class="failed"><strong>Finished despite failed checks.</strong> Reason given: '
              f'{e(r["forced_reason"])}</p>' if r["forced_reason"] else "")
    admin = r["administrator"]
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Provisioning report: {e(cfg["device"]["id"])}</title>
<style>
body {{ font: 11pt/1.4 sans-serif; margin: 2em; color: #000; }}
table {{ border-collapse: collapse; width: 100%; margin-bottom: 1.5em; }}
th, td {{ border: 1px solid #888; padding: 4px 6px; text-align: left; vertical-align: top; }}
code {{ word-break: break-all; }}
tr.failed td, p.failed {{ background: #fdd; }}
tr.skipped td {{ background: #ffd; }}
@media print {{ body {{ margin: 0; }} }}
</style></head><body>
<h1>ALPR appliance provisioning report</h1>
<p>Device <strong>{e(cfg["device"]["id"])}</strong>, {e(cfg["device"]["site_name"])}.
Provisioned {e(r["created_at"])} with alpr-appliance {e(r["software_version"])}. Status: <strong>{e(r["status"])}</strong>.</p>
{forced}
<h2>Checks</h2>
<table><tr><th>check</th><th>result</th><th>detail</th></tr>{rows}</table>
<h2>Certificate fingerprints (SHA-256)</h2>
<table>{fps}</table>
<h2>Policy and administrator</h2>
<table><tr><th>usage and privacy policy version</th><td>{e(r["policy_version"] or "not recorded")}</td></tr>
<tr><th>first administrator</th><td>{e(admin["username"] or "not created")}</td></tr>
<tr><th>second factor enrolled</th><td>{"yes" if admin["mfa_enrolled"] else "no"}</td></tr>
<tr><th>training valid until</th><td>{e(admin["training_expires"] or "no record: required before viewing data")}</td></tr></table>
<h2>Configuration</h2>
<table>{conf}</table>
<p>Installer signature: ______________________ &nbsp; Date: ____________</p>
</body></html>
"""


def _write(path: Path, text: str) -> None:
    replace_file(path, text, mode=0o644)
