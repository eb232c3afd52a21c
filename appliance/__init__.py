"""alpr-appliance: the device code (recognition, store, hub link, alerts, provisioning)."""

version = "0.1.0"  # the release; pyproject reads it, `alpr release build` stamps it into a bundle
