"""The local backend's system-call filter, in the spirit of Docker's default seccomp profile.

Namespaces and dropped capabilities already make most of these calls fail; the filter denies them
outright (EPERM), so a kernel bug behind one of them is out of reach too. Built with libseccomp (the
`pyseccomp` binding), exported as BPF once, and handed to bwrap's `--seccomp`, which installs it
right before it executes the program: the program and everything it starts run under it.

Everything not listed is allowed (an allow-list breaks ordinary programs on every new libc). Calls
of other ABIs (32-bit `int 0x80`, x32) fail with EPERM: a filter written for x86-64 numbers must not
be bypassed through another table.
"""

from __future__ import annotations

import errno
import tempfile
import threading
from pathlib import Path
from typing import Any

DENIED = (
    # Debugging and reading or writing other processes' memory.
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    # Kernel keyrings, BPF programs, perf events, userfaultfd, io_uring: large kernel attack surface.
    "keyctl",
    "add_key",
    "request_key",
    "bpf",
    "perf_event_open",
    "userfaultfd",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    # New namespaces and mounts.
    "unshare",
    "setns",
    "mount",
    "umount2",
    "pivot_root",
    "move_mount",
    "open_tree",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    # The machine itself.
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "reboot",
    "swapon",
    "swapoff",
    "acct",
    "quotactl",
    "name_to_handle_at",
    "open_by_handle_at",
    "syslog",
)
"""Denied with EPERM whatever their arguments."""

NAMESPACE_FLAGS = {
    "CLONE_NEWNS": 0x00020000,
    "CLONE_NEWCGROUP": 0x02000000,
    "CLONE_NEWUTS": 0x04000000,
    "CLONE_NEWIPC": 0x08000000,
    "CLONE_NEWUSER": 0x10000000,
    "CLONE_NEWPID": 0x20000000,
    "CLONE_NEWNET": 0x40000000,
}
"""`clone` with any of these is denied (EPERM); threads and `fork` stay allowed."""

ALLOWED_PERSONA = 0x0008 | 0x20000
"""PER_LINUX32 and UNAME26, as Docker allows; any other personality bit (ADDR_NO_RANDOMIZE turns
off ASLR) is denied, and so is the 0xffffffff query, which sets every bit."""

_lock = threading.Lock()
_exported: Path | None = None


def build_filter() -> Any:
    """The filter as a libseccomp object (`pyseccomp.SyscallFilter`)."""
    import pyseccomp as seccomp

    deny = seccomp.ERRNO(errno.EPERM)
    rules = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
    rules.set_attr(seccomp.Attr.ACT_BADARCH, deny)
    for name in DENIED:
        rules.add_rule(deny, name)
    for flag in NAMESPACE_FLAGS.values():
        rules.add_rule(deny, "clone", seccomp.Arg(0, seccomp.MASKED_EQ, flag, flag))
    # clone3 passes its flags in memory a filter cannot read. ENOSYS (not EPERM) makes libc fall
    # back to clone, whose flags the rules above do see: Docker's profile does the same.
    rules.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
    for bit in range(32):
        if not (1 << bit) & ALLOWED_PERSONA:
            rules.add_rule(deny, "personality", seccomp.Arg(0, seccomp.MASKED_EQ, 1 << bit, 1 << bit))
    return rules


def filter_path() -> Path:
    """The filter as BPF in a file (written once per process), for bwrap's `--seccomp FD`."""
    global _exported
    with _lock:
        if _exported is None or not _exported.exists():
            with tempfile.NamedTemporaryFile(prefix="referee-seccomp-", suffix=".bpf", delete=False) as out:
                build_filter().export_bpf(out)
            _exported = Path(out.name)
        return _exported
