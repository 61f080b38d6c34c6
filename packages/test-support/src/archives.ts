// Python (stdlib only) that tests prepend to their own script to write real archives byte for
// byte: `wheel(name, metadata)` and `sdist(name, [(path, bytes), …])`, version 1.0, into the
// folder given as sys.argv[1] (`out`). Fixed mtimes, so a rerun writes the same bytes.
export const PY_ARCHIVES = String.raw`
import io, os, sys, tarfile, zipfile
out = sys.argv[1]

def wheel(name, metadata):
    with zipfile.ZipFile(os.path.join(out, name + "-1.0-py3-none-any.whl"), "w") as z:
        d = name + "-1.0.dist-info/"
        for arc, data in [(d + "METADATA", metadata), (d + "WHEEL", b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"), (d + "RECORD", b"")]:
            z.writestr(zipfile.ZipInfo(arc, (2020, 1, 1, 0, 0, 0)), data)

def sdist(name, files):
    with tarfile.open(os.path.join(out, name + "-1.0.tar.gz"), "w:gz") as t:
        for arc, data in files:
            info = tarfile.TarInfo(name + "-1.0/" + arc)
            info.size, info.mtime, info.mode = len(data), 1577836800, 0o644
            t.addfile(info, io.BytesIO(data))
`;
