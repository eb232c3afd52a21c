"""The search page: reads by plate (full or partial), time range, camera and hits, bound to a purpose.

A search runs only with a purpose (POLICY LG-2): a category, a text that says something
("test" or the category's own words are refused) and a case number; "exigent
circumstances" may go without one, and its record is marked for a supervisor's review.
The query and its access record share one transaction (LG-4): when the record cannot be
written nothing is shown. Each page of results is its own query and its own record, listing
the ids it returned; the crops it shows name that record (`?via=`), so they are not
recorded again. A GET form (results can be bookmarked within the session) carries the
CSRF token, so another site cannot make a user run a search in their name.
"""

from __future__ import annotations

from datetime import datetime, timezone

from flask import Blueprint, current_app, render_template, request
from flask_wtf.csrf import ValidationError, validate_csrf

from appliance.audit import records
from appliance.audit.purpose import EXIGENT, check_purpose
from appliance.store.search import plate_pattern
from webui import recording
from webui.reads import utc_text
from webui.state import web_state

bp = Blueprint("search", __name__)

PER_PAGE = 25
MAX_PAGE = 40  # the store answers at most 1000 reads per query (PER_PAGE * MAX_PAGE)
_TERMS = ("plate", "camera", "since", "until", "hits")


def _time(name: str) -> datetime | None:
    value = request.args.get(name, "").strip()
    if not value:
        return None
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{name} must be a UTC date and time like 2026-12-01T09:30; got {value!r}") from None
    return t.replace(tzinfo=timezone.utc) if t.tzinfo is None else t.astimezone(timezone.utc)


def _terms() -> tuple[dict, list[str]]:
    """The query terms given, checked; (terms, problems)."""
    args, terms, problems = request.args, {}, []
    plate = args.get("plate", "").strip()
    if plate:
        try:
            terms["plate"] = plate_pattern(plate)[0]
        except ValueError as e:
            problems.append(str(e))
    camera = args.get("camera", "").strip()
    if camera:
        terms["camera"] = camera
    for name in ("since", "until"):
        try:
            t = _time(name)
        except ValueError as e:
            problems.append(str(e))
            continue
        if t is not None:
            terms[name] = t
    if args.get("hits") == "1":
        terms["hits"] = True
    if not any(k in terms for k in ("plate", "camera", "since", "until")) and not problems:
        problems.append("Give at least one search term: a plate (? one character, * any run), a camera or a time range.")
    return terms, problems


def _page_number() -> int:
    text = request.args.get("page", "1")
    if not text.isdigit() or not 1 <= int(text) <= MAX_PAGE:
        raise ValueError(f"page must be a whole number from 1 to {MAX_PAGE}; got {text!r}")
    return int(text)


def _form(status: int = 200, problems: list[str] | None = None, **kw):
    return render_template("search.html", categories=records.PURPOSES, exigent=EXIGENT, args=request.args,
                           problems=problems or [], utc_text=utc_text, **kw), status


@bp.route("/search")
def index():
    """The form (no terms given), or one page of results and its access record."""
    args = request.args
    if not any(args.get(k) for k in (*_TERMS, "category", "purpose", "case")):
        return _form()
    if current_app.config.get("WTF_CSRF_ENABLED", True):
        try:
            validate_csrf(args.get("csrf_token", ""))
        except ValidationError:
            return _form(400, ["The search form expired or did not come from this site; search again."])
    terms, problems = _terms()
    category, text, case = args.get("category", ""), args.get("purpose", "").strip(), args.get("case", "").strip()
    problems += check_purpose(category, text, case)
    try:
        page = _page_number()
    except ValueError as e:
        problems.append(str(e))
    if problems:
        return _form(400, problems)
    try:
        found, rec = _run(terms, page, category, text, case)
    except ValueError as e:  # e.g. since after until, a bad camera name: the store says what is allowed
        return _form(400, [str(e)])
    except recording.RecordRefused:
        return recording.refused()
    return _form(reads=found[:PER_PAGE], more=len(found) > PER_PAGE, page=page, record=rec,
                 link_args={k: v for k, v in args.items() if k != "page"})


def _run(terms: dict, page: int, category: str, text: str, case: str):
    """The query and its record in one transaction: no record, no results (POLICY LG-4)."""
    store = web_state().store
    want = page * PER_PAGE + 1
    with store.database.atomic("IMMEDIATE"):
        found = store.search(plate=terms.get("plate"), camera=terms.get("camera"), since=terms.get("since"),
                             until=terms.get("until"), limit=min(want if not terms.get("hits") else 1000, 1000))
        if terms.get("hits"):
            found = [r for r in found if r.hit]
        found = found[(page - 1) * PER_PAGE:page * PER_PAGE + 1]
        shown = found[:PER_PAGE]
        query = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in terms.items()} | {"page": page}
        rec = recording.record(store.database, action="search", query=query, purpose_category=category,
                               purpose_text=text, case_number=case, result_ids=[r.id for r in shown],
                               review="required" if category == EXIGENT else "")
    return found, rec
