"""Alerts: a read that hits a hotlist, stored with its read, sent to the hub first, shown and acknowledged (issue #7)."""

from appliance.alerts.model import OUTCOMES, Alert, AlertError
from appliance.alerts.records import acknowledge, get_alert, open_alerts, record_read
from appliance.alerts.sink import AlertSink
from appliance.alerts.writer import AlertingWriter

__all__ = ["OUTCOMES", "Alert", "AlertError", "AlertSink", "AlertingWriter", "acknowledge", "get_alert",
           "open_alerts", "record_read"]
