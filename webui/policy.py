"""The usage and privacy policy at /policy, open to everyone, and its exports (POLICY TP-1).

No sign-in: the policy is public by law (Civil Code § 1798.90.51(b)) and the sign-in page
links to it. `/policy.md` and `/policy.html` are downloads of the same versioned text for
the agency's website (the HTML one a standalone page, no scripts, no site chrome). A policy
file that cannot be read is a 503 saying so, never an empty page.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, render_template

from appliance import usage_policy
from webui.state import web_state

log = logging.getLogger(__name__)

bp = Blueprint("policy", __name__)


def _policy():
    try:
        return usage_policy.load(web_state().policy_file or None), None
    except ValueError as e:
        log.error("the usage policy cannot be shown: %s", e)
        return None, (render_template("error.html", title="Policy unavailable",
                                      message="The usage policy file cannot be read; tell the administrator."), 503)


@bp.route("/policy")
def page():
    """The policy, rendered, with its version and the export links."""
    policy, failed = _policy()
    if failed:
        return failed
    return render_template("policy.html", policy=policy, body=usage_policy.to_html(policy.text))


@bp.route("/policy.md")
def markdown():
    """The policy as Markdown, to download (the version line included, as the file has it)."""
    policy, failed = _policy()
    if failed:
        return failed
    return Response(f"Version: {policy.version}\n{policy.text}\n", mimetype="text/markdown",
                    headers={"Content-Disposition": f'attachment; filename="usage-policy-{policy.version}.md"'})


@bp.route("/policy.html")
def html():
    """The policy as one standalone HTML page, to download and post on the agency's website."""
    policy, failed = _policy()
    if failed:
        return failed
    page = render_template("policy_export.html", policy=policy, body=usage_policy.to_html(policy.text))
    return Response(page, mimetype="text/html",
                    headers={"Content-Disposition": f'attachment; filename="usage-policy-{policy.version}.html"'})
