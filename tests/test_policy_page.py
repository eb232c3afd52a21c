"""The usage and privacy policy (POLICY TP-1): public at /policy, versioned, linked at sign-in, exportable."""

from __future__ import annotations

from pathlib import Path

import pytest

from appliance import usage_policy, users
from test_access_control import clock, folder  # noqa: F401 - fixtures
from webui import create_app


def make_app(folder: Path, clock, **options):  # noqa: F811
    return create_app(folder, {"TESTING": True, "SECRET_KEY": "k", "WTF_CSRF_ENABLED": False,
                               "password_hasher": users.cheap_hasher(), "clock": clock, **options})


@pytest.fixture
def agency_policy(tmp_path: Path) -> Path:
    p = tmp_path / "policy.md"
    p.write_text("Version: 2027.3\n# Springfield PD ALPR policy\n\nPlates are kept **one year**.\n\n"
                 "- only for investigations\n- audited <script>alert(1)</script>\n", encoding="utf-8")
    return p


def test_the_shipped_policy_is_shown_without_sign_in_and_linked_at_sign_in(folder, clock) -> None:  # noqa: F811
    """TP-1: /policy needs no session; the sign-in page links to it; the version is shown."""
    app = make_app(folder, clock)
    client = app.test_client()
    shipped = usage_policy.load()
    page = client.get("/policy")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and f"Version {shipped.version}" in html
    assert "<h1>Automated License Plate Reader (ALPR) usage and privacy policy</h1>" in html
    assert "1798.90.51" in html and "<li>" in html
    assert 'href="/policy"' in client.get("/login").get_data(as_text=True)
    app.extensions["alpr"].store.close()


def test_a_configured_policy_file_is_shown_escaped_and_exported(folder, clock, agency_policy) -> None:  # noqa: F811
    """TP-1: the agency's own text and version; the exports are downloads of the same version."""
    app = make_app(folder, clock, policy_file=str(agency_policy))
    client = app.test_client()
    html = client.get("/policy").get_data(as_text=True)
    assert "Version 2027.3" in html and "<h1>Springfield PD ALPR policy</h1>" in html
    assert "<strong>one year</strong>" in html and "<script>alert" not in html and "&lt;script&gt;" in html
    md = client.get("/policy.md")
    assert md.status_code == 200 and md.mimetype == "text/markdown"
    assert md.headers["Content-Disposition"] == 'attachment; filename="usage-policy-2027.3.md"'
    assert md.get_data(as_text=True) == agency_policy.read_text(encoding="utf-8")
    export = client.get("/policy.html")
    text = export.get_data(as_text=True)
    assert export.status_code == 200 and "usage-policy-2027.3.html" in export.headers["Content-Disposition"]
    assert text.startswith("<!doctype html>") and "Version 2027.3" in text and "stylesheet" not in text
    app.extensions["alpr"].store.close()


def test_a_broken_policy_file_is_a_clear_503(folder, clock, tmp_path) -> None:  # noqa: F811
    bad = tmp_path / "bad.md"
    bad.write_text("# no version line\n", encoding="utf-8")
    app = make_app(folder, clock, policy_file=str(bad))
    r = app.test_client().get("/policy")
    assert r.status_code == 503 and b"policy file cannot be read" in r.data
    app.extensions["alpr"].store.close()


@pytest.mark.parametrize("content, words", [
    (b"# Policy\n", "must start with a line 'Version: <version>'"),
    (b"Version: 1\n\xff\xfe", "not UTF-8"),
    (None, "cannot be read"),
])
def test_load_says_what_is_wrong(tmp_path, content, words) -> None:
    p = tmp_path / "p.md"
    if content is not None:
        p.write_bytes(content)
    with pytest.raises(ValueError, match=words):
        usage_policy.load(p)


def test_markdown_subset_rendering() -> None:
    html = usage_policy.to_html("## Kept\n\nOne\nparagraph & more.\n\n- a\n  continued\n- **b**\n\nafter")
    assert html == ("<h2>Kept</h2>\n<p>One paragraph &amp; more.</p>\n<ul>\n<li>a continued</li>\n"
                    "<li><strong>b</strong></li>\n</ul>\n<p>after</p>")
