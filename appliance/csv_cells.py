"""One rule for every CSV the appliance hands out: no cell a spreadsheet would run as a formula.

A cell starting with =, +, -, @, a tab or a carriage return is prefixed with a quote (CSV
injection: the access records, the audit report and the alert accuracy report all carry text
that users or hotlists typed). Lists and dicts become sorted JSON first.
"""

from __future__ import annotations

import json
from typing import Any

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: Any) -> str:
    """The cell's text, quoted when a spreadsheet would read it as a formula."""
    text = json.dumps(value, sort_keys=True, ensure_ascii=False) if isinstance(value, (dict, list)) else str(value)
    return "'" + text if text[:1] in _FORMULA_STARTS else text
