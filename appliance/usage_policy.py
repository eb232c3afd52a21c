"""The usage and privacy policy (POLICY TP-1; Civil Code § 1798.90.51(b)): versioned text, shown and exported.

The agency keeps its policy in a Markdown file (config `web.policy_file`; empty = the
default shipped in appliance/data/usage-policy.md). The file's first line names its
version ("Version: 2026.1"), so the page, the sign-in link and an export all say which text
they show. `to_html` renders the small Markdown subset the policy needs (headings, lists,
paragraphs, **bold**) with everything escaped: the file is the agency's, but the page is
public, so nothing in it may become markup.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

from markupsafe import escape

log = logging.getLogger(__name__)

DEFAULT = Path(__file__).resolve().parent / "data" / "usage-policy.md"
MAX_BYTES = 256 * 1024
_VERSION = re.compile(r"Version:\s*(\S{1,40})\s*")


@dataclass(frozen=True)
class Policy:
    version: str
    title: str
    text: str  # Markdown, without the version line


def load(path: str | Path | None = None) -> Policy:
    """The policy in `path` (default: the shipped one); ValueError naming what is wrong."""
    p = Path(path) if path else DEFAULT
    try:
        data = p.read_bytes()
    except OSError as e:
        raise ValueError(f"the usage policy file {p} cannot be read ({e.strerror}); set web.policy_file to a "
                         "readable Markdown file, or leave it empty for the shipped default") from None
    if len(data) > MAX_BYTES:
        raise ValueError(f"the usage policy file {p} is {len(data)} bytes; at most {MAX_BYTES} are shown")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"the usage policy file {p} is not UTF-8 text") from None
    first, _, rest = text.partition("\n")
    m = _VERSION.fullmatch(first.strip())
    if not m:
        raise ValueError(f"the usage policy file {p} must start with a line 'Version: <version>' "
                         f"(e.g. 'Version: 2026.1'); it starts with {first[:60]!r}")
    body = rest.strip("\n")
    title = next((ln.lstrip("# ").strip() for ln in body.splitlines() if ln.startswith("# ")), "Usage and privacy policy")
    return Policy(m[1], title, body)


def _inline(text: str) -> str:
    return re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", str(escape(text)))


def to_html(markdown: str) -> str:
    """The policy's Markdown as an HTML fragment: #-headings, - or * lists, paragraphs, **bold**."""
    out: list[str] = []
    para: list[str] = []
    in_list = False

    def flush() -> None:
        nonlocal in_list
        if para:
            out.append(f"<p>{_inline(' '.join(para))}</p>")
            para.clear()
        if in_list:
            out.append("</ul>")
            in_list = False

    for line in markdown.splitlines():
        s = line.strip()
        heading = re.match(r"(#{1,4})\s+(.*)", s)
        item = re.match(r"[-*]\s+(.*)", s)
        if not s:
            flush()
        elif heading:
            flush()
            level = len(heading[1])
            out.append(f"<h{level}>{_inline(heading[2])}</h{level}>")
        elif item:
            if para:
                out.append(f"<p>{_inline(' '.join(para))}</p>")
                para.clear()
            if not in_list:
                out.append("<ul>")
                in_list = True
            out.append(f"<li>{_inline(item[1])}</li>")
        elif in_list and line.startswith((" ", "\t")):
            out[-1] = out[-1][:-5] + " " + _inline(s) + "</li>"  # a list item's continuation line
        else:
            if in_list:
                out.append("</ul>")
                in_list = False
            para.append(s)
    flush()
    return "\n".join(out)
