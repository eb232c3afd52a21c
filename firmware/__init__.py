"""The hardware edge: camera sources, IO, watchdog. Imports nothing of the appliance."""
