"""`python -m appliance` is the same as the `alpr` command."""

import sys

from appliance.cli import main

sys.exit(main())
