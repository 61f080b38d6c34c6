#!/usr/bin/env python3
"""Independent reading of every wheel in a folder with Python's own zipfile + email parser:
prints {filename: {"requires_dist": [...], "requires_python": str|None, "provides_extra": [...]}
or {"error": "..."}} as JSON. Used by test/e2e/wheels.test.ts to check what pypi-graph stored."""
import json
import os
import sys
import zipfile
from email.parser import BytesHeaderParser

out = {}
for root, _dirs, names in os.walk(sys.argv[1]):
    for fn in sorted(names):
        if not fn.endswith('.whl'):
            continue
        try:
            with zipfile.ZipFile(os.path.join(root, fn)) as z:
                metas = [n for n in z.namelist() if n.count('/') == 1 and n.endswith('.dist-info/METADATA')]
                if len(metas) != 1:
                    raise ValueError(f'{len(metas)} METADATA files')
                msg = BytesHeaderParser().parsebytes(z.read(metas[0]))
            out[fn] = {
                'requires_dist': [v.strip() for v in msg.get_all('Requires-Dist') or []],
                'requires_python': (msg.get('Requires-Python') or '').strip() or None,
                'provides_extra': [v.strip() for v in msg.get_all('Provides-Extra') or []],
            }
        except Exception as e:  # noqa: BLE001 - any failure is the answer
            out[fn] = {'error': f'{type(e).__name__}: {e}'}
json.dump(out, sys.stdout)
