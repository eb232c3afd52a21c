"""The account roles and which of them may do what (POLICY AC-2), in one place.

The web UI's access table (webui/access.py), the command line's sign-in (cli_auth.py),
hotlist changes and legal holds all take their role sets from here, so a role given
plate data in one interface has it in every other.
"""

from __future__ import annotations

ROLES = ("administrator", "supervisor", "operator", "auditor", "records_manager")
DATA_ROLES = frozenset({"administrator", "supervisor", "operator"})  # see plate data; auditors read access records
LIST_MANAGERS = frozenset({"administrator", "supervisor"})  # change hotlists, read the accuracy report
HOLDERS = frozenset({"supervisor", "records_manager"})  # place and release legal holds, export evidence (RT-3, RT-4)
