"""The link to the agency hub (DESIGN.md "Hub API", POLICY DS-1, LG-3, SH-1).

forwarder.py pushes the store's outbox to `{hub}/api/v1/ingest`; items.py gives every
record the one JSON shape both the push and the web UI's pull API (webui/hub_api.py)
send; tokens.py keeps the pull API's client tokens; testhub.py is a real recording hub
on loopback for the tests and the demo.
"""
