"""Legal holds and evidence export in the web UI (POLICY RT-3, RT-4): place, list, release, export.

Supervisors and records managers hold reads for a case (from a search's results, a read's
page, or by pasting read ids here), release holds, and export a case's held reads as a
signed archive (appliance/audit/evidence.py). Each of those is an access record written in
the same transaction as the change (holds.py, evidence.py); when it cannot be written the
change is refused (LG-4). A form with a problem comes back with the problem named (200,
like the other forms the permission matrix walks). The archive is built in memory and sent
as a download: no plaintext image ever touches the appliance's disk (DS-4).
"""

from __future__ import annotations

import io
import logging
import re

from flask import Blueprint, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user

from appliance.audit import evidence, holds, signing
from appliance.audit.holds import Actor
from appliance.errors import EvidenceError
from webui import recording
from webui.state import web_state

log = logging.getLogger(__name__)

bp = Blueprint("holds", __name__)

_IDS = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@bp.app_context_processor
def _hold_purposes() -> dict:
    """The purposes the hold form offers (hold_form.html, on the search and read pages too)."""
    return {"hold_purposes": holds.HOLD_PURPOSES}


def _actor() -> Actor:
    return Actor(current_user.username, request.remote_addr or "unknown", web_state().agency)


def _page(problems: list[str] | None = None, form=None):
    store = web_state().store
    return render_template("holds.html", active=holds.list_holds(store, active=True),
                           released=holds.list_holds(store, active=False, limit=100), problems=problems or [],
                           categories=holds.HOLD_PURPOSES, form=form or {})


@bp.route("/holds")
def index():
    """Active and released holds, the form to place one and the export action."""
    return _page(form=request.args)


@bp.route("/holds", methods=["POST"])
def place():
    """Hold the reads named in the form (ids separated by spaces, commas or lines) for a case."""
    f = request.form
    text = " ".join(f.getlist("read_ids"))
    ids = _IDS.findall(text.lower())
    leftover = _IDS.sub("", text.lower()).replace(",", " ").split()
    if leftover:
        return _page([f"Read ids look like 0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b; these are not: "
                      f"{', '.join(leftover[:5])}"], f)
    try:
        hold = holds.place(web_state().store, case_number=f.get("case", ""), reason=f.get("reason", ""),
                           requester=f.get("requester", ""), read_ids=ids, actor=_actor(),
                           purpose_category=f.get("category", ""), now=web_state().clock())
    except EvidenceError as e:
        return _page([str(e)], f)
    except Exception:  # the access record could not be written: nothing was held (LG-4)
        log.exception("a legal hold could not be placed")
        return recording.refused()
    flash(f"Legal hold placed for case {hold.case_number} on {len(hold.read_ids)} read(s).")
    return redirect(url_for("holds.index"))


@bp.route("/holds/release", methods=["POST"])
def release():
    """Release one hold (who and when are kept); its reads go with the next purge once past their period."""
    try:
        hold = holds.release(web_state().store, request.form.get("hold_id", ""), reason=request.form.get("reason", ""),
                             actor=_actor(), now=web_state().clock())
    except EvidenceError as e:
        return _page([str(e)])
    except Exception:
        log.exception("a legal hold could not be released")
        return recording.refused()
    flash(f"Legal hold for case {hold.case_number} released.")
    return redirect(url_for("holds.index"))


@bp.route("/holds/export", methods=["POST"])
def export():
    """The case's held reads as a signed evidence archive, downloaded; the export is an access record."""
    f = request.form
    out: list[bytes] = []
    try:
        signer = signing.load_signer(web_state().store.key_folder)
        report = evidence.export(web_state().store, f.get("case", ""), reason=f.get("reason", ""), actor=_actor(),
                                 write=out.append, signer=signer, purpose_category=f.get("category", ""),
                                 now=web_state().clock())
    except EvidenceError as e:
        return _page([str(e)], f)
    except Exception:
        log.exception("an evidence export failed")
        return recording.refused()
    name = "evidence-" + re.sub(r"[^A-Za-z0-9._-]", "_", report.case_number) + ".zip"
    return send_file(io.BytesIO(out[0]), mimetype="application/zip", as_attachment=True, download_name=name,
                     max_age=0)
