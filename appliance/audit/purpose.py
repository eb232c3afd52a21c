"""What a stated purpose must say (POLICY LG-2), shared by the search form and the audit report (AR-1).

The search page refuses a purpose that `check_purpose` finds wrong; the audit report flags
recorded searches whose purpose `is_vague` (records from before the check, the CLI, or a
check tightened since), so both judge by the same words.
"""

from __future__ import annotations

import re

from appliance.audit.records import PURPOSES

MIN_PURPOSE = 20
EXIGENT = "exigent circumstances"
# Words that say nothing about why: a purpose made only of these (and the category's own words) is boilerplate.
FILLER = frozenset("""a an and the of for to in on at by with as is it this that per re my our
    test testing tests check checking checked look looking lookup search searching query plate plates
    investigation investigations investigative investigate ongoing official officially business use purpose
    purposes law enforcement police department routine general info information data case cases na n none
    other misc miscellaneous reasons reason work duty related see policy standard""".split())
CASE = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._/#-]{2,39}")


def is_vague(category: str, text: str) -> bool:
    """Whether a purpose text is boilerplate: too short, or under three words beyond stock phrases."""
    words = re.findall(r"[a-z0-9]+", text.casefold())
    own = set(re.findall(r"[a-z0-9]+", category.casefold()))
    meaningful = [w for w in words if w not in FILLER and w not in own]
    return len(text.strip()) < MIN_PURPOSE or len(meaningful) < 3


def check_purpose(category: str, text: str, case: str) -> list[str]:
    """What is wrong with a search's purpose, as messages naming what is allowed; empty when it will do."""
    problems = []
    if category not in PURPOSES:
        problems.append(f"Choose a purpose category: {', '.join(PURPOSES)}.")
    if is_vague(category, text):
        problems.append(f"Describe the purpose in your own words (at least {MIN_PURPOSE} characters and three words "
                        "beyond stock phrases such as \"test\", \"investigation\" or the category's name): what "
                        "happened, and why this plate or place matters to it.")
    if category != EXIGENT and not case.strip():
        problems.append("Give the case number (or choose \"exigent circumstances\", which a supervisor reviews).")
    elif case.strip() and not CASE.fullmatch(case.strip()):
        problems.append("A case number is 3-40 letters, digits, spaces or . _ / # -, starting with a letter or digit.")
    return problems
