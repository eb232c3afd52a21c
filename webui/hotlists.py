"""Hotlist pages: the lists, one list's entries (create, edit, renew, expire) and file imports with the checker.

Operators see lists and entries; supervisors and administrators change them (access.py,
POLICY AC-2, TR-1). Every change goes through the repository (`replace_list`: one
transaction with its log row and access record), never straight to the tables: an edit
of one entry writes the list back with that entry changed. Manual entries expire after
30 days unless renewed with a reason (RT-5); expiring an entry keeps it on the list as a
record that no longer matches. An import shows the checker's report (look-alike twins,
missing states, expired records, duplicates, rejected lines by number and reason) on a
check first, and again with the counts once applied.
"""

from __future__ import annotations

from dataclasses import replace

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_login import current_user

from appliance.hotlists import repository
from appliance.hotlists.importer import FORMATS, parse_columns, run_import
from appliance.hotlists.model import SOURCES, Hotlist, HotlistError, manual_entry
from appliance.hotlists.normalise import normalise_pattern
from appliance.ids import uuid7
from appliance.roles import LIST_MANAGERS
from webui.alerts import _age_text
from webui.state import web_state

bp = Blueprint("hotlists", __name__)

SHOWN = 500  # entries on a list page; a filter by plate finds the rest
MAX_UPLOAD = 100 * 1024 * 1024  # a 1M-line CSV is ~55 MB


def allow_upload() -> None:
    """Before-request hook (before CSRF reads the form): the import page takes files up to MAX_UPLOAD.

    Only for a signed-in supervisor or administrator: anyone else keeps the app's small
    limit, so nobody can make the appliance take in 100 MB just by posting to the page.
    """
    if request.endpoint == "hotlists.import_file" and current_user.is_authenticated and _can_manage():
        request.max_content_length = MAX_UPLOAD


def _can_manage() -> bool:
    return current_user.role in LIST_MANAGERS


def _list_or_404(list_id: str):
    found = repository.load_list(web_state().store, list_id)
    if found is None:
        abort(404)
    return found


def _save(hotlist: Hotlist, entries) -> None:
    """Write the list back through the repository (who, client and agency recorded with it)."""
    state = web_state()
    repository.replace_list(state.store, hotlist, entries, current_user.username, now=state.clock(),
                            allow_empty=True, client=request.remote_addr or "unknown", agency=state.agency)


@bp.route("/hotlists", methods=["GET"])
def index():
    """Every list: name, source, priority, refresh interval, age, entry count."""
    now = web_state().clock()
    rows = []
    for hotlist, count in repository.list_summaries(web_state().store):
        age = hotlist.age(now)
        rows.append({"list": hotlist, "entries": count, "stale": hotlist.is_stale(now),
                     "age": "never refreshed" if age is None else _age_text(age.total_seconds())})
    return render_template("hotlists.html", rows=rows, sources=SOURCES, can_manage=_can_manage(), error="")


@bp.route("/hotlists", methods=["POST"])
def create():
    """A new, empty list (supervisors and administrators)."""
    f = request.form
    try:
        hotlist = Hotlist(uuid7(), f.get("name", "").strip(), f.get("source", ""), priority=_int(f, "priority", 3),
                          source_system=f.get("source_system", "").strip(),
                          refresh_interval_s=_int(f, "refresh_interval_s", 0), policy=f.get("policy", "lookalike"),
                          lookalike_budget=_int(f, "lookalike_budget", 1))
        _save(hotlist, [])
    except HotlistError as e:
        return render_template("hotlists.html", rows=[], sources=SOURCES, can_manage=True, error=str(e)), 400
    return redirect(url_for("hotlists.detail", list_id=hotlist.id), 303)


def _int(form, name: str, default: int) -> int:
    text = form.get(name, "").strip()
    try:
        return int(text) if text else default
    except ValueError:
        raise HotlistError(f"{name.replace('_', ' ')} must be a whole number; got {text!r}") from None


def _settings_or_404(list_id: str) -> Hotlist:
    """A list's settings without its entries, or 404."""
    hotlist = repository.get_list(web_state().store, list_id)
    if hotlist is None:
        abort(404)
    return hotlist


def _detail(list_id: str, error: str = "", status: int = 200):
    store = web_state().store
    hotlist = _settings_or_404(list_id)
    now = web_state().clock()
    wanted = request.args.get("plate", "").strip()
    try:
        needle = normalise_pattern(wanted) if wanted else ""
    except ValueError as e:
        needle, error = "", error or str(e)
    shown, total = repository.entries_page(store, list_id, needle, SHOWN)
    age = hotlist.age(now)
    return render_template("hotlist.html", hotlist=hotlist, entries=shown, total=total, now=now,
                           plate=wanted, can_manage=_can_manage(), error=error,
                           age="never refreshed" if age is None else _age_text(age.total_seconds()),
                           stale=hotlist.is_stale(now), log=repository.import_log(store, list_id, 10),
                           formats=FORMATS), status


@bp.route("/hotlists/<list_id>", methods=["GET"])
def detail(list_id: str):
    """One list: its settings, its entries (first SHOWN, or those containing ?plate=), its change log."""
    return _detail(list_id)


@bp.route("/hotlists/<list_id>/entries", methods=["POST"])
def add_entry(list_id: str):
    """A manual entry: plate or pattern, reason required, expiring after 30 days (RT-5)."""
    hotlist, entries = _list_or_404(list_id)
    f = request.form
    try:
        entry = manual_entry(list_id, f.get("plate", ""), entered_by=current_user.username, now=web_state().clock(),
                             reason=f.get("reason", ""), case_number=f.get("case_number", ""),
                             state=f.get("state", ""), description=f.get("description", ""))
        _save(hotlist, [*entries, entry])
    except HotlistError as e:
        return _detail(list_id, str(e), 400)
    return redirect(url_for("hotlists.detail", list_id=list_id), 303)


@bp.route("/hotlists/<list_id>/entries/<entry_id>", methods=["POST"])
def change_entry(list_id: str, entry_id: str):
    """action=edit (state, description, reason, case number), renew (with a reason) or expire (now)."""
    hotlist, entries = _list_or_404(list_id)
    entry = next((e for e in entries if e.id == entry_id), None)
    if entry is None:
        abort(404)
    f, now, action = request.form, web_state().clock(), request.form.get("action", "")
    try:
        if action == "edit":
            changed = replace(entry, state=f.get("state", "").strip().upper(),
                              description=f.get("description", "").strip(), reason=f.get("reason", "").strip(),
                              case_number=f.get("case_number", "").strip())
            if entry.manual and not changed.reason:
                raise HotlistError("a manual entry needs a reason (HL-1)")
        elif action == "renew":
            changed = entry.renew(f.get("renew_reason", ""), current_user.username, now)
        elif action == "expire":
            changed = replace(entry, expires_at=now)
        else:
            raise HotlistError(f"action must be edit, renew or expire; got {action!r}")
        _save(hotlist, [changed if e.id == entry_id else e for e in entries])
    except HotlistError as e:
        return _detail(list_id, str(e), 400)
    return redirect(url_for("hotlists.detail", list_id=list_id), 303)


@bp.route("/hotlists/<list_id>/import", methods=["GET", "POST"])
def import_file(list_id: str):
    """GET: the import form. POST: check the file (check_only) or check and apply it; the report either way."""
    hotlist = _settings_or_404(list_id)
    page = {"hotlist": hotlist, "formats": FORMATS, "current": repository.entry_count(web_state().store, list_id),
            "outcome": None, "error": ""}
    if request.method == "GET":
        return render_template("hotlist_import.html", **page)
    upload = request.files.get("file")
    fmt, check_only = request.form.get("format", ""), bool(request.form.get("check_only"))
    page.update(fmt=fmt, columns=request.form.get("columns", ""), check_only=check_only)
    if upload is None or not upload.filename:
        return render_template("hotlist_import.html", **{**page, "error": "Choose a file to import."}), 400
    state = web_state()
    try:
        outcome = run_import(state.store, hotlist, upload.read(), fmt, current_user.username, state.clock(),
                             columns=parse_columns(page["columns"]), check_only=check_only,
                             client=request.remote_addr or "unknown", agency=state.agency)
    except HotlistError as e:
        return render_template("hotlist_import.html", **{**page, "error": str(e)}), 400
    return render_template("hotlist_import.html", **{**page, "outcome": outcome})
