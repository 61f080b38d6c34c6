"""Run a command where creating Linux namespaces fails with EPERM, as in a container whose seccomp
profile forbids it (Docker's default does, for unshare/clone with CLONE_NEW*).

    python3 packages/test-support/src/no-namespaces.py nix-build ...

A real fault caused locally: the filter is installed on this process only (PR_SET_NO_NEW_PRIVS +
PR_SET_SECCOMP) and inherited by the command, so Nix cannot set up its build sandbox; nothing
host-wide changes.  clone3 answers ENOSYS (glibc then falls back to clone, which the filter sees).
x86_64 only.
"""
import ctypes
import os
import platform
import struct
import sys

if platform.machine() != "x86_64":
    sys.exit("no-namespaces.py: x86_64 only")

SYS_CLONE, SYS_UNSHARE, SYS_SETNS, SYS_CLONE3 = 56, 272, 308, 435
AUDIT_ARCH_X86_64 = 0xC000003E
# CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET
CLONE_NEW = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000
LD_W_ABS, JEQ_K, JSET_K, RET_K = 0x20, 0x15, 0x45, 0x06
ALLOW, ERRNO = 0x7FFF0000, 0x00050000
EPERM, ENOSYS = 1, 38


def stmt(code, k):
    return struct.pack("HBBI", code, 0, 0, k)


def jump(code, k, jt, jf):
    return struct.pack("HBBI", code, jt, jf, k)


program = [
    stmt(LD_W_ABS, 4),                        # seccomp_data.arch
    jump(JEQ_K, AUDIT_ARCH_X86_64, 1, 0),
    stmt(RET_K, ALLOW),
    stmt(LD_W_ABS, 0),                        # seccomp_data.nr
    jump(JEQ_K, SYS_UNSHARE, 4, 0),
    jump(JEQ_K, SYS_SETNS, 3, 0),
    jump(JEQ_K, SYS_CLONE3, 6, 0),
    jump(JEQ_K, SYS_CLONE, 1, 0),
    stmt(RET_K, ALLOW),
    stmt(LD_W_ABS, 16),                       # args[0], low half: the flags
    jump(JSET_K, CLONE_NEW, 0, 1),
    stmt(RET_K, ERRNO | EPERM),
    stmt(RET_K, ALLOW),
    stmt(RET_K, ERRNO | ENOSYS),
]
code = b"".join(program)
buffer = ctypes.create_string_buffer(code, len(code))


class SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


fprog = SockFprog(len(program), ctypes.addressof(buffer))
libc = ctypes.CDLL(None, use_errno=True)
PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 38, 22, 2
if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
    raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
    raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP)")
os.execvp(sys.argv[1], sys.argv[1:])
