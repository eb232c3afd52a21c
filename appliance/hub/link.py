"""The hub link's side workers beside the forwarder: hotlist sync and heartbeat, built from config.

Both use the forwarder's session and auth (one hub, one TLS setup) and run on their own
named threads; `alpr run` and `alpr demo` start them after the forwarder and stop them
before it (HubWorkers).
"""

from __future__ import annotations

import logging

from appliance.hub.forwarder import Forwarder
from appliance.hub.heartbeat import Heartbeat, collect_health
from appliance.hub.hotlist_sync import HotlistSync

log = logging.getLogger(__name__)


class HubWorkers:
    """The hotlist sync and the heartbeat of one forwarder, started and stopped together."""

    def __init__(self, sync: HotlistSync, heartbeat: Heartbeat) -> None:
        self.sync, self.heartbeat = sync, heartbeat

    def start(self) -> None:
        self.sync.start()
        self.heartbeat.start()

    def stop(self) -> bool:
        """Stop both; True when both threads ended."""
        return self.heartbeat.stop() & self.sync.stop()


def build_hub_workers(store, forwarder: Forwarder | None, *, hotlist_refresh_s: float, heartbeat_s: float,
                      pipeline=None, certificates=None) -> HubWorkers | None:
    """Hotlist sync every `hotlist_refresh_s` and a heartbeat every `heartbeat_s`; None without a forwarder."""
    if forwarder is None:
        return None
    sync = HotlistSync(store, forwarder.hub_request, forwarder.url.rsplit("/api/v1/", 1)[0],
                       interval_s=hotlist_refresh_s)
    heartbeat = Heartbeat(store, forwarder.send_items,
                          lambda: collect_health(store, pipeline=pipeline, forwarder=forwarder,
                                                 certificates=certificates),
                          interval_s=heartbeat_s)
    return HubWorkers(sync, heartbeat)
