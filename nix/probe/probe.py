"""Nix builder of the sandbox probe (nix/probe.nix): look at the world from inside a build.

runSandbox never runs a setup.py before this derivation, built with exactly the nix-build options
of an extraction, has shown that the build is sandboxed (packages/extractor/src/sandbox/probe.ts).
It writes $out/report.json, one entry per check, and leaves the verdict to the caller: a
Nix that dropped the sandbox still writes a report (or fails to build at all), and the caller
accepts nothing but a report with its own nonce and every check passed.

Checks (derivation attributes in brackets):
- user: the builder is not root (uid and euid), so it cannot undo the sandbox's mounts;
- pid: it is PID 1 of its own PID namespace, so it sees no host process;
- network: no interface but loopback; no TCP connection to [targets] (the host's PostgreSQL and
  Redis on 127.0.0.1, public addresses) succeeds; [dnsName] does not resolve;
- filesystem: [marker], a file the caller has just created on the host, is not there, nor its
  directory, nor [hidden] (the repository); `/` holds only [allowedRoot]; /etc only what Nix writes;
- environment: only Nix's variables and the derivation's attributes;
- cgroup: the builder is in the cgroup the caller made for this build ([cgroup], its name), so
  the build's memory and process caps hold for it (not checked when [cgroup] is empty);
- confine: it can make the nested user and mount namespace and the tmpfs that driver.py caps
  the interpreters' writes with (driver.py: confine).
"""
import ctypes
import json
import os
import socket

ENV = dict(os.environ)
NIX_VARIABLES = {
    "HOME", "NIX_BUILD_CORES", "NIX_BUILD_TOP", "NIX_LOG_FD", "NIX_STORE", "PATH", "PWD", "TEMP",
    "TEMPDIR", "TERM", "TMP", "TMPDIR", "builder", "name", "out", "system",
}
ATTRIBUTES = {"nonce", "marker", "hidden", "targets", "dnsName", "allowedRoot", "sandboxPaths", "preferLocalBuild",
              "allowSubstitutes", "cgroup",
              # interpreters-host.nix: a relocated driver's prefix (the derivation sets it)
              "PYTHONHOME"}
# set by the interpreter itself (PEP 538: a C locale is coerced to C.UTF-8)
INTERPRETER = {"LC_CTYPE"}
ETC = {"group", "hosts", "passwd"}


def check(ok, detail):
    return {"ok": bool(ok), "detail": detail}


def user():
    uid, euid = os.getuid(), os.geteuid()
    return check(uid != 0 and euid != 0, "uid %d, euid %d" % (uid, euid))


def pid():
    me = os.getpid()
    return check(me == 1, "pid %d" % me)


def connect(target):
    host, _, port = target.rpartition(":")
    host = host.strip("[]")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(2)
    try:
        s.connect((host, int(port)))
        return "open"
    except OSError as exc:
        return "closed (%s)" % (exc.strerror or exc.__class__.__name__)
    finally:
        s.close()


def network():
    interfaces = sorted(name for _, name in socket.if_nameindex())
    seen = {t: connect(t) for t in ENV["targets"].split()}
    try:
        socket.getaddrinfo(ENV["dnsName"], 443)
        dns = "resolved"
    except OSError:
        dns = "failed"
    ok = interfaces == ["lo"] and all(v != "open" for v in seen.values()) and dns == "failed"
    detail = "interfaces %s; %s; dns %s %s" % (
        ",".join(interfaces), "; ".join("%s %s" % kv for kv in sorted(seen.items())), ENV["dnsName"], dns)
    return check(ok, detail)


def filesystem():
    problems = []
    for p in (ENV["marker"], os.path.dirname(ENV["marker"]), ENV["hidden"]):
        if os.path.lexists(p):
            problems.append("host path %s is visible" % p)
    allowed = set(ENV["allowedRoot"].split())
    extra = sorted(set(os.listdir("/")) - allowed)
    if extra:
        problems.append("/ holds %s" % " ".join(extra))
    extra_etc = sorted(set(os.listdir("/etc")) - ETC)
    if extra_etc:
        problems.append("/etc holds %s" % " ".join(extra_etc[:20]))
    return check(not problems, "; ".join(problems) or "/ holds %s" % " ".join(sorted(os.listdir("/"))))


def environment():
    extra = sorted(set(ENV) - NIX_VARIABLES - ATTRIBUTES - INTERPRETER)
    return check(not extra, "unexpected variables: %s" % " ".join(extra) if extra else "Nix's variables only")


def cgroup():
    with open("/proc/self/cgroup") as handle:
        lines = handle.read().split()
    name = ENV["cgroup"]
    if not name:
        return check(True, "no build cgroup asked for")
    inside = [line for line in lines if line.endswith("/" + name)]
    # v1: one line per controller (memory and pids); v2: the one unified line
    ok = len(inside) >= (2 if any(":memory:" in line for line in lines) else 1)
    return check(ok, " ".join(lines))


def confine():
    """What driver.py does first, in a child process (this one stays as it is)."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            uid, gid = os.getuid(), os.getgid()
            if libc.unshare(0x10000000 | 0x00020000) != 0:
                raise OSError(ctypes.get_errno(), "unshare")
            for name, text in (("setgroups", "deny"), ("uid_map", "%d %d 1" % (uid, uid)),
                               ("gid_map", "%d %d 1" % (gid, gid))):
                with open("/proc/self/" + name, "w") as handle:
                    handle.write(text)
            if libc.mount(b"tmpfs", b"/tmp", b"tmpfs", 6, b"size=1m") != 0:
                raise OSError(ctypes.get_errno(), "mount")
            code = 0
        finally:
            os._exit(code)
    status = os.waitpid(pid, 0)[1]
    return check(status == 0, "nested user and mount namespace, tmpfs: %s" % ("yes" if status == 0 else "no"))


def main():
    checks = {}
    for name, fn in (("user", user), ("pid", pid), ("network", network), ("filesystem", filesystem),
                     ("environment", environment), ("cgroup", cgroup), ("confine", confine)):
        try:
            checks[name] = fn()
        except Exception as exc:  # a check that cannot run has not shown anything
            checks[name] = check(False, "check failed: %r" % (exc,))
    os.makedirs(ENV["out"])
    with open(os.path.join(ENV["out"], "report.json"), "w") as handle:
        json.dump({"nonce": ENV["nonce"], "checks": checks}, handle, sort_keys=True)


if __name__ == "__main__":
    main()
