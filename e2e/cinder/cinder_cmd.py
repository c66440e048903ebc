"""Runs one of Cinder's commands as its console script would:
    python3 cinder_cmd.py api|scheduler|volume|manage ARGS...
(cinder.cmd.* have no __main__ block, so `python3 -m` would do nothing).
Nothing may be imported before the command's module: it monkey-patches
eventlet at import."""

import importlib
import sys

name = sys.argv.pop(1)
sys.argv[0] = "cinder-" + name
importlib.import_module("cinder.cmd." + name).main()
