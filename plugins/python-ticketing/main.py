#!/usr/bin/env python3
"""python-ticketing: a wogate plugin in Python.

Accepts new work orders whose priority is one of the configured ones and
adds a note naming the ticket it opened for them; everything else it
leaves alone. See README.md.
"""

import os
import sys

try:
    import wogate_plugin as wp
except ImportError:
    # Run from a checkout: the SDK is in sdk/python beside plugins/.
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.realpath(__file__)), "..", "..", "sdk", "python"))
    import wogate_plugin as wp

import ticketing  # noqa: E402  (beside this file)

if __name__ == "__main__":
    wp.serve(ticketing.Ticketing())
