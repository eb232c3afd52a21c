"""Sign-in, lockout, idle logout and MFA enrolment in a real headless Chromium (POLICY AC-4, AC-6, AC-7, AC-8).

The Flask test client never runs the browser's side: real forms with their CSRF tokens,
cookies, redirects, HTML validation of the banner box. Here Playwright drives Debian's
Chromium against the real app served by werkzeug on a loopback port, over a real
encrypted store. The app's clock is the real time plus an offset the test can move, so
TOTP codes are the ones an authenticator shows now, and the idle limit is crossed
without waiting 30 minutes.

The module skips itself where /usr/bin/chromium or the playwright package is missing;
`make install-dev` installs both (never `playwright install`: no browser downloads).
"""

from __future__ import annotations

import re
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pyotp
import pytest
from werkzeug.serving import make_server

from appliance import totp, training, users
from appliance.store import Store
from appliance.store.models import UserRow
from test_store import T0, make_read
from webui import create_app

CHROMIUM = Path("/usr/bin/chromium")
playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed: pip install -e .[dev]")
if not CHROMIUM.exists() or shutil.which(str(CHROMIUM)) is None:
    pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium (Debian's package; no browser downloads)",
                allow_module_level=True)

# Chromium as root needs --no-sandbox; the rest stop it calling Google's hosts, which this network refuses.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-quic", "--no-first-run", "--disable-sync", "--disable-dev-shm-usage"]
PASSWORD = "purple elephant marching slowly"
PLATES = ["7ABC123", "8XYZ987"]
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
TIMEOUT_MS = 10_000


class Clock:
    """Real time plus an offset the test moves (the app's injectable `clock` option)."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(timezone.utc) + self.offset

    def advance(self, **kw: float) -> None:
        self.offset += timedelta(**kw)


@dataclass
class Site:
    """The served app: its base URL, the app (for its store) and its clock."""

    url: str
    app: object
    clock: Clock

    @property
    def store(self) -> Store:
        return self.app.extensions["alpr"].store


@pytest.fixture(scope="module")
def browser():
    """One Chromium for the module (starting it is the slow part); each test gets its own context."""
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    """A fresh context (no cookies from another test) and one page in it."""
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    yield context.new_page()
    context.close()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Site]:
    """Two reads; `officer` (TOTP key set, trained), `newbie` (no second factor yet, trained); served on loopback."""
    folder = tmp_path / "store"
    now = datetime.now(timezone.utc)
    cheap = users.cheap_hasher()
    with Store.open(folder) as s:
        for i, text in enumerate(PLATES):
            s.add_read(make_read(text, at=T0 + timedelta(seconds=30 * i), seed=i))
        for name in ("officer", "newbie"):
            u = users.create_user(s, name, PASSWORD, "operator", hasher=cheap, now=now)
            if name == "officer":
                totp.enrol_with_secret(s, u.id, SECRET, actor="test", now=now)
            training.add_record(s, name, "ALPR use", "2026.1", now.date() - timedelta(days=1),
                                now.date() + timedelta(days=365), actor="test", now=now)
    clock = Clock()
    # CSRF stays on: the browser posts the real forms with their tokens. No self-refresh: no background requests.
    app = create_app(folder, {"SECRET_KEY": "browser-test-secret", "password_hasher": cheap, "clock": clock,
                              "refresh_seconds": 0})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="webui-test-server", daemon=True)
    thread.start()
    try:
        yield Site(f"http://127.0.0.1:{server.server_port}", app, clock)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        app.extensions["alpr"].store.close()


def password_step(page, served: Site, username: str, password: str = PASSWORD, *, banner: bool = True) -> None:
    """Open the sign-in page, fill it in as a person would, submit and wait for the answer."""
    if not page.url.startswith(f"{served.url}/login"):
        page.goto(f"{served.url}/login")
    page.fill("#username", username)
    page.fill("#password", password)
    if banner:
        page.check("#banner")
    with page.expect_navigation():
        page.click("form button[type=submit]")


def current_code(secret: str) -> str:
    """What an authenticator app shows now (the app's clock has no offset while this is used)."""
    return pyotp.TOTP(secret).now()


def test_sign_in_with_use_banner_and_totp_shows_the_latest_reads(page, served: Site) -> None:
    page.goto(f"{served.url}/")
    assert page.url.startswith(f"{served.url}/login?next=")  # no data without signing in
    assert "authorised use only" in page.inner_text("#use-banner")
    assert page.get_attribute("#banner", "required") is not None  # the browser itself insists on the tick

    # The server insists too: without the acknowledgement (the browser's check removed) the password is not even tried.
    page.evaluate("document.getElementById('banner').removeAttribute('required')")
    password_step(page, served, "officer", banner=False)
    assert "/login" in page.url
    assert "Acknowledge the notice to sign in." in page.inner_text("[role=alert]")

    password_step(page, served, "officer")
    assert page.url == f"{served.url}/login/code"
    page.fill("#code", current_code(SECRET))
    with page.expect_navigation():
        page.click("form button[type=submit]")

    assert page.url == f"{served.url}/"
    assert page.inner_text("h1") == "Latest reads"
    shown = page.locator("#reads td.plate").all_inner_texts()
    assert sorted(shown) == sorted(PLATES)
    assert "officer (operator)" in page.inner_text("header .who")
    assert users.events(served.store, "officer")[-1][3] == "signed in"


def test_five_wrong_passwords_lock_the_account_until_an_administrator_unlocks_it(page, served: Site) -> None:
    for attempt in range(users.LOCK_AFTER):
        password_step(page, served, "officer", f"wrong password number {attempt}")
        assert "Invalid username or password." in page.inner_text("[role=alert]"), attempt
    assert users.find_user(served.store, "officer").locked

    # The right password now gets the same refusal (names and lock states stay secret) and the lockout notice.
    password_step(page, served, "officer")
    assert page.url.startswith(f"{served.url}/login") and "/login/code" not in page.url
    assert "Invalid username or password." in page.inner_text("[role=alert]")
    assert "locked until an administrator unlocks it" in page.inner_text("main")
    page.goto(f"{served.url}/login/code")  # no way round step one
    assert page.url == f"{served.url}/login"

    users.unlock(served.store, "officer", actor="admin")
    password_step(page, served, "officer")
    assert page.url == f"{served.url}/login/code"
    page.fill("#code", current_code(SECRET))
    with page.expect_navigation():
        page.click("form button[type=submit]")
    assert page.url == f"{served.url}/"
    assert sorted(page.locator("#reads td.plate").all_inner_texts()) == sorted(PLATES)


def test_thirty_idle_minutes_end_the_session(page, served: Site) -> None:
    password_step(page, served, "officer")
    page.fill("#code", current_code(SECRET))
    with page.expect_navigation():
        page.click("form button[type=submit]")
    assert page.inner_text("h1") == "Latest reads"

    served.clock.advance(minutes=29)  # activity inside the limit keeps the session (and restarts the idle count)
    page.goto(f"{served.url}/health")
    assert page.url == f"{served.url}/health"
    served.clock.advance(minutes=29)
    page.goto(f"{served.url}/")
    assert page.inner_text("h1") == "Latest reads"

    served.clock.advance(minutes=31)
    page.goto(f"{served.url}/")
    assert page.url == f"{served.url}/login"
    assert "Your session ended: 30 minutes without activity. Sign in again." in page.inner_text("[role=status]")
    assert page.locator("#reads").count() == 0
    page.goto(f"{served.url}/")  # the session is gone, not just this one page
    assert page.url.startswith(f"{served.url}/login?next=")


def test_new_user_enrols_the_second_factor_from_the_qr_page(page, served: Site) -> None:
    password_step(page, served, "newbie")
    assert page.url == f"{served.url}/login/enrol"
    assert page.inner_text("h1") == "Set up your second factor"
    qr = page.locator(".qr svg")
    assert qr.count() == 1 and qr.bounding_box()["width"] > 100  # a QR code a phone can scan, drawn inline

    secret = page.inner_text("#totp-key").strip()
    assert re.fullmatch(r"[A-Z2-7]{32}", secret), secret
    row = UserRow.select().where(UserRow.username == "newbie").bind(served.store.database).first()
    assert row.totp_pending == secret and row.totp_secret is None  # shown, not yet the account's key

    page.fill("#code", "000000" if current_code(secret) != "000000" else "111111")
    with page.expect_navigation():
        page.click("form button[type=submit]")
    assert page.url == f"{served.url}/login/enrol"
    assert "That code is wrong" in page.inner_text("[role=alert]")
    assert page.inner_text("#totp-key").strip() == secret  # the same key until it is confirmed

    page.fill("#code", current_code(secret))
    with page.expect_navigation():
        page.click("form button[type=submit]")
    assert page.url == f"{served.url}/"
    assert sorted(page.locator("#reads td.plate").all_inner_texts()) == sorted(PLATES)
    newbie = users.find_user(served.store, "newbie")
    assert newbie.mfa_enrolled
    assert "mfa enrolled" in [e[3] for e in users.events(served.store, "newbie")]


def test_an_administrator_creates_a_user_then_sets_up_a_new_second_factor(page, served: Site) -> None:
    """The users page and My account in a real browser, with their real CSRF tokens (AC-1, AC-4, AC-5)."""
    users.set_role(served.store, "officer", "administrator", actor="test")
    password_step(page, served, "officer")
    page.fill("#code", current_code(SECRET))
    with page.expect_navigation():
        page.click("form button[type=submit]")
    page.click("header nav a[href='/users']")
    page.fill("#username", "dana")
    page.select_option("#role", "supervisor")
    with page.expect_navigation():
        page.click("text=Create user")
    generated = page.inner_text("#generated-password").strip()
    assert len(generated) >= 15 and users.find_user(served.store, "dana").role == "supervisor"

    page.click("header nav a[href='/account']")
    page.fill("#mfa-current", PASSWORD)
    with page.expect_navigation():
        page.click("text=Set up a new second factor")
    assert page.url == f"{served.url}/account/mfa" and page.locator(".qr svg").count() == 1
    secret = page.inner_text("#totp-key").strip()
    assert secret != SECRET
    served.clock.advance(seconds=30)  # the sign-in used this step's code of the old key; the new key starts fresh
    page.fill("#code", pyotp.TOTP(secret).at(served.clock()))
    with page.expect_navigation():
        page.click("main form button[type=submit]")  # not the header's sign-out button
    assert "new second factor is set up" in page.inner_text("[role=status]")
    row = UserRow.select().where(UserRow.username == "officer").bind(served.store.database).first()
    assert row.totp_secret == secret and row.totp_pending is None


# -- purpose-bound search, access records and the audit report (issue #9: LG-1, LG-2, AR-1) ------------------

AUDITOR_SECRET = "KRSXG5CTMVRXEZLUKRSXG5CTMVRXEZLU"


def sign_in_as(page, served: Site, username: str, secret: str) -> None:
    password_step(page, served, username)
    page.fill("#code", current_code(secret))
    with page.expect_navigation():
        page.click("form button[type=submit]")
    assert page.url == f"{served.url}/", page.url


def add_auditor(served: Site) -> None:
    now = datetime.now(timezone.utc)
    u = users.create_user(served.store, "audrey", PASSWORD, "auditor", hasher=users.cheap_hasher(), now=now)
    totp.enrol_with_secret(served.store, u.id, AUDITOR_SECRET, actor="test", now=now)


def submit_search(page) -> None:
    with page.expect_navigation():
        page.click("main form button[type=submit]")


def test_a_search_is_refused_without_purpose_then_recorded_with_every_field(page, served: Site) -> None:
    """LG-2: the server refuses a search without purpose (the browser's checks removed); LG-1: a good one is
    recorded with every field, and the auditor sees it in the access records."""
    from appliance.audit import records
    served.app.extensions["alpr"].agency = "CA0010000"
    add_auditor(served)
    sign_in_as(page, served, "officer", SECRET)
    page.goto(f"{served.url}/search")
    page.evaluate("document.querySelectorAll('[required]').forEach(e => e.removeAttribute('required'))")
    page.fill("input[name=plate]", "7ABC123")
    submit_search(page)
    problems = " ".join(page.locator("[role=alert]").all_inner_texts())
    assert "Choose a purpose category" in problems and "Describe the purpose" in problems
    assert page.locator("main table.reads").count() == 0  # no results shown
    assert [r for r in records.latest(served.store, 1000) if r.action == "search"] == []

    purpose = "burglary on Elm St, a witness saw a silver sedan leave at speed"
    page.select_option("select[name=category]", "criminal investigation")
    page.fill("input[name=purpose]", purpose)
    page.fill("input[name=case]", "24-001234")
    submit_search(page)
    assert "7ABC123" in page.inner_text("main table.reads")
    [rec] = [r for r in records.latest(served.store, 1000) if r.action == "search"]
    assert (rec.username, rec.agency, rec.client, rec.purpose_category, rec.purpose_text, rec.case_number,
            rec.outcome) == ("officer", "CA0010000", "127.0.0.1", "criminal investigation", purpose, "24-001234", "ok")
    assert rec.query["plate"] == "7ABC123" and rec.result_count == 1 and len(rec.result_ids) == 1
    assert rec.at.endswith("Z") and len(rec.at.split(".")[1]) >= 3  # UTC to better than 0.01 s

    with page.expect_navigation():
        page.click("header .signout button")
    sign_in_as(page, served, "audrey", AUDITOR_SECRET)
    page.click("header nav a[href='/audit']")
    row = page.locator("main table.reads tr", has_text="24-001234")
    assert row.count() == 1 and purpose in row.inner_text() and "officer" in row.inner_text()
    assert "Chain intact" in page.inner_text("#chain")


def test_the_audit_report_flags_a_planted_vague_search(page, served: Site) -> None:
    """AR-1: a search recorded with a boilerplate purpose and no case shows flagged in the report."""
    from appliance.audit import records
    add_auditor(served)
    planted = records.append(served.store, records.AccessRecord(
        username="officer", action="search", client="10.0.0.7", purpose_category="criminal investigation",
        purpose_text="test", query={"plate": "7*"}, result_ids=[]))
    sign_in_as(page, served, "audrey", AUDITOR_SECRET)
    page.click("header nav a[href='/audit/report']")
    row = page.locator(f"#report tr[data-record='{planted.id}']")
    assert row.get_attribute("class") == "flagged"
    flags = row.locator(".flag").all_inner_texts()
    assert {"vague purpose", "missing case", "broad sweep"} <= set(flags)
    assert "1 flagged" in page.inner_text("#report-summary")
