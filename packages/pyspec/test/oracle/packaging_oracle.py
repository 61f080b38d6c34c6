"""Reference answers from Python's `packaging` (>= 26) and `email.parser` for the pyspec tests.

Reads one JSON object on stdin: {"<mode>": <input>, ...}; writes {"<mode>": <output>, ...}.
One process per test file, every input at once.
"""

import email.parser
import email.policy
import json
import re
import sys
import warnings

import packaging
from packaging.markers import Marker
from packaging.metadata import parse_email
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

if int(packaging.__version__.split(".")[0]) < 26:
    sys.exit(f"packaging >= 26 required, found {packaging.__version__}")

# ast.literal_eval warns about unknown escapes in marker strings; the value is what matters here.
warnings.simplefilter("ignore")


def evaluations(marker, envs, extras):
    out = []
    for env in envs:
        row = []
        for extra in extras:
            try:
                row.append(marker.evaluate({**env, "extra": extra}))
            except Exception:  # noqa: BLE001 - any failure is "does not evaluate"
                row.append("error")
        out.append(row)
    return out


def requirements(data):
    out = []
    for text in data["inputs"]:
        try:
            r = Requirement(text)
            out.append(
                {
                    "ok": True,
                    "name": r.name,
                    "extras": sorted(r.extras),
                    "specifier": str(r.specifier),
                    "url": r.url,
                    "marker": str(r.marker) if r.marker is not None else None,
                    "str": str(r),
                    "eval": evaluations(r.marker, data["envs"], data["extras"]) if r.marker is not None else None,
                }
            )
        except Exception as e:  # noqa: BLE001 - packaging lets SyntaxError/ValueError escape too
            out.append({"ok": False, "error": type(e).__name__})
    return out


def requirement_strs(texts):
    """str(Requirement(text)) of each text, or None where packaging does not read it."""
    out = []
    for text in texts:
        try:
            out.append(str(Requirement(text)))
        except Exception:  # noqa: BLE001
            out.append(None)
    return out


def requirement_fixed_points(texts):
    """str(Requirement(...)) applied until it no longer changes (at most 5 times), or None."""
    out = []
    for text in texts:
        try:
            s = str(Requirement(text))
            for _ in range(5):
                nxt = str(Requirement(s))
                if nxt == s:
                    break
                s = nxt
            out.append(s if str(Requirement(s)) == s else None)
        except Exception:  # noqa: BLE001
            out.append(None)
    return out


def markers(data):
    out = []
    for text in data["inputs"]:
        try:
            m = Marker(text)
            out.append({"ok": True, "marker": str(m), "eval": evaluations(m, data["envs"], data["extras"])})
        except Exception as e:  # noqa: BLE001
            out.append({"ok": False, "error": type(e).__name__})
    return out


def try_version(s):
    try:
        return Version(s)
    except Exception:  # noqa: BLE001 - InvalidVersion, or ValueError for huge ints
        return None


def versions(data):
    parsed = [(s, try_version(s)) for s in data]
    valid = sorted(((v, s) for s, v in parsed if v is not None), key=lambda p: (p[0], p[1]))
    invalid = sorted(s for s, v in parsed if v is None)
    return {
        "normalized": [str(v) if v is not None else None for _, v in parsed],
        "prerelease": [v.is_prerelease if v is not None else None for _, v in parsed],
        "sorted": [s for _, s in valid] + invalid,
    }


def specifiers(data):
    out = []
    for version, spec, pre in data:
        try:
            ss = SpecifierSet(spec)
            norm = str(ss)
        except Exception as e:  # noqa: BLE001
            out.append({"ok": False, "error": type(e).__name__})
            continue
        try:
            contains = ss.contains(version, prereleases=pre)
        except Exception:  # noqa: BLE001
            contains = "error"
        out.append({"ok": True, "normalized": norm, "contains": contains})
    return out


def nl(s):
    return re.sub(r"\r\n|\r", "\n", s)


def message(text):
    msg = email.parser.Parser(policy=email.policy.compat32).parsestr(text)
    payload = msg.get_payload()
    return {"headers": [[k, nl(v)] for k, v in msg.items()], "body": nl(payload) if isinstance(payload, str) else None}


def unfolded(values):
    cleaned = (re.sub(r"\r\n|\r|\n", "", v).strip() for v in values or [])
    return [v for v in cleaned if v]


def metadata_files(paths):
    out = []
    for path in paths:
        with open(path, "rb") as f:
            data = f.read()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            out.append(None)
            continue
        if text.startswith("\ufeff"):
            text = text[1:]
        msg = email.parser.Parser(policy=email.policy.compat32).parsestr(text)
        raw, _ = parse_email(data)
        res = message(text)
        res["requiresDist"] = unfolded(msg.get_all("Requires-Dist"))
        res["providesExtra"] = unfolded(msg.get_all("Provides-Extra"))
        rp = unfolded(msg.get_all("Requires-Python"))
        res["requiresPython"] = rp[0] if rp else None
        res["packaging"] = {
            "requires_dist": raw.get("requires_dist", []),
            "provides_extra": raw.get("provides_extra", []),
            "requires_python": raw.get("requires_python"),
        }
        out.append(res)
    return out


MODES = {
    "requirements": requirements,
    "markers": markers,
    "requirementStrs": requirement_strs,
    "requirementFixedPoints": requirement_fixed_points,
    "versions": versions,
    "specifiers": specifiers,
    "messages": lambda texts: [message(t) for t in texts],
    "metadataFiles": metadata_files,
    "names": lambda names: [canonicalize_name(n) for n in names],
}

request = json.load(sys.stdin)
json.dump({mode: MODES[mode](data) for mode, data in request.items()}, sys.stdout)
