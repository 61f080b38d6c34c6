#!/usr/bin/env python3
"""Independent oracle for the end-to-end test: what the `pypi/` layout must contain for a folder
of archives served as an index, computed here in Python straight from the archives and the
folder's `pypi-index.json`, with none of pypi-graph's code. It follows the rules of
nix-pypi-fetcher-2's crawler (docs/formats.md §A2) and our documented choices (upload order).

usage: expected_pypi.py FOLDER OUTDIR   -> writes OUTDIR/pypi/00.json … ff.json
"""
import base64
import hashlib
import json
import os
import sys
import tarfile
import urllib.parse
import zipfile
from datetime import datetime
from email.parser import HeaderParser

SUFFIXES = ('.tar.gz', '.tgz', '.zip', '.tar.bz2', '.whl')
SDIST_PREFERENCE = ('.tar.gz', '.tgz', '.zip', '.tar.bz2')


def pep503(name):
    import re
    return re.sub(r'[-_.]+', '-', name).lower()


def read_metadata(path):
    try:
        if path.endswith('.whl'):
            with zipfile.ZipFile(path) as z:
                names = [n for n in z.namelist() if n.count('/') == 1 and n.endswith('.dist-info/METADATA')]
                return z.read(names[0]) if names else None
        if path.endswith('.zip'):
            with zipfile.ZipFile(path) as z:
                names = [n for n in z.namelist() if n.count('/') == 1 and n.endswith('/PKG-INFO')]
                return z.read(names[0]) if names else None
        with tarfile.open(path) as t:
            for m in t.getmembers():
                if m.isfile() and m.name.count('/') == 1 and m.name.endswith('/PKG-INFO'):
                    return t.extractfile(m).read()
    except Exception:
        return None
    return None


def name_from_filename(fn):
    import re
    if fn.endswith('.whl'):
        parts = fn[:-4].split('-')
        return parts[0], parts[1]
    stem = next(fn[: -len(s)] for s in SDIST_PREFERENCE if fn.endswith(s))
    m = re.match(r'^(.+?)-(\d.*)$', stem)
    return m.group(1), m.group(2)


def main(folder, outdir):
    with open(os.path.join(folder, 'pypi-index.json'), encoding='utf-8') as f:
        manifest = json.load(f)
    mfiles = manifest.get('files', {})
    mreleases = manifest.get('releases', {})
    mprojects = manifest.get('projects', {})
    removed_projects = {pep503(p) for p, v in mprojects.items() if v.get('removed_at')}
    removed_releases = {(pep503(k.split('==')[0]), k.split('==', 1)[1]) for k, v in mreleases.items() if v.get('removed_at')}

    projects = {}  # pep503 -> {display, files: [...]}
    for root, _dirs, names in os.walk(folder):
        for fn in sorted(names):
            if not fn.endswith(SUFFIXES):
                continue
            path = os.path.join(root, fn)
            raw = read_metadata(path)
            if raw is not None:
                meta = HeaderParser().parsestr(raw.decode('utf-8', 'replace'))
                name, version = meta['Name'], meta['Version']
            else:
                # A broken archive is still a file of the index: its name tells project and version.
                name, version = name_from_filename(fn)
            info = mfiles.get(fn, {})
            if info.get('removed_at') or pep503(name) in removed_projects or (pep503(name), version) in removed_releases:
                continue
            if 'upload_time' not in info:
                sys.exit(f'oracle: {fn} has no upload_time in pypi-index.json')
            with open(path, 'rb') as fh:
                digest = hashlib.sha256(fh.read()).digest()
            p = projects.setdefault(pep503(name), {'display': name, 'files': []})
            p['files'].append({
                'filename': fn,
                'version': version,
                'time': datetime.fromisoformat(info['upload_time'].replace('Z', '+00:00')),
                'b64': base64.b64encode(digest).decode(),
                'pyver': fn[:-4].split('-')[-3] if fn.endswith('.whl') else 'source',
            })

    buckets = {f'{i:02x}': {} for i in range(256)}
    for p in projects.values():
        key = p['display'].replace('_', '-').lower()
        files = sorted(p['files'], key=lambda f: (f['time'], f['filename']))
        releases = {}
        for f in files:
            releases.setdefault(f['version'], []).append(f)
        order = sorted(releases, key=lambda v: (min(f['time'] for f in releases[v]), v))
        out = {}
        for v in order:
            rel = releases[v]
            entry = {}
            sdists = [f for f in rel if f['filename'].endswith(SDIST_PREFERENCE)]
            sdists.sort(key=lambda f: [f['filename'].endswith(s) for s in SDIST_PREFERENCE].index(True))
            if sdists:
                entry['sdist'] = [sdists[0]['b64'], urllib.parse.quote(sdists[0]['filename'], safe='/ ')]
            wheels = {f['filename']: [f['b64'], f['pyver']] for f in rel if f['filename'].endswith('.whl')}
            if wheels:
                entry['wheels'] = wheels
            if entry:
                out.setdefault(v.strip(), entry)
        if out:
            buckets[hashlib.sha256(key.encode()).hexdigest()[:2]][key] = out

    os.makedirs(os.path.join(outdir, 'pypi'), exist_ok=True)
    for b, data in buckets.items():
        with open(os.path.join(outdir, 'pypi', f'{b}.json'), 'w') as f:
            json.dump(dict(sorted(data.items())), f, indent=2)


if __name__ == '__main__':
    main(sys.argv[1], sys.argv[2])
