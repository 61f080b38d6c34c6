#!/usr/bin/env python3
"""How Python's packaging reads requirement strings: a JSON list on stdin; prints, for each,
{"ok": true, "str": str(Requirement(s)), "url": bool} or {"ok": false, "error": "..."}.
Used by the end-to-end tests to check every requirement string of a snapshot (issue 11 §5)."""
import json
import sys

import packaging
from packaging.requirements import Requirement

if int(packaging.__version__.split(".")[0]) < 26:
    sys.exit(f"packaging >= 26 required, found {packaging.__version__}")

out = []
for text in json.load(sys.stdin):
    try:
        r = Requirement(text)
        out.append({"ok": True, "str": str(r), "url": r.url is not None})
    except Exception as e:  # noqa: BLE001 - any failure is the answer
        out.append({"ok": False, "error": f"{type(e).__name__}: {e}"})
json.dump(out, sys.stdout)
