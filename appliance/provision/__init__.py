"""`alpr provision`: set up an appliance at the pole and write a report that proves it (issue 12)."""

from appliance.provision.answers import Answers, ask_answers, load_answers, parse_answers
from appliance.provision.checks import Check, Layout
from appliance.provision.runner import Outcome, provision

__all__ = ["Answers", "Check", "Layout", "Outcome", "ask_answers", "load_answers", "parse_answers", "provision"]
