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
import fcntl
import os
from functools import cache
from typing import Any

DENIED = (
    # Debugging, reading or writing other processes' memory, taking their file descriptors.
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "process_madvise",
    "pidfd_getfd",
    "kcmp",
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
    "mount_setattr",
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
    "quotactl_fd",
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


RUNNER_NEEDS = ("mount",)
"""What the warm runner does itself, outside the programs: it clones each session into new user, pid
and mount namespaces and mounts that session's /proc. The runner's own filter (`for_runner`) allows
these; each session installs the full filter before it reads a request, so programs never can."""


def build_filter(for_runner: bool = False) -> Any:
    """The filter as a libseccomp object (`pyseccomp.SyscallFilter`)."""
    import pyseccomp as seccomp

    deny = seccomp.ERRNO(errno.EPERM)
    rules = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
    rules.set_attr(seccomp.Attr.ACT_BADARCH, deny)
    for name in DENIED:
        if not (for_runner and name in RUNNER_NEEDS):
            rules.add_rule(deny, name)
    for flag in NAMESPACE_FLAGS.values() if not for_runner else ():
        rules.add_rule(deny, "clone", seccomp.Arg(0, seccomp.MASKED_EQ, flag, flag))
    # clone3 passes its flags in memory a filter cannot read. ENOSYS (not EPERM) makes libc fall
    # back to clone, whose flags the rules above do see: Docker's profile does the same.
    rules.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
    for bit in range(32):
        if not (1 << bit) & ALLOWED_PERSONA:
            rules.add_rule(deny, "personality", seccomp.Arg(0, seccomp.MASKED_EQ, 1 << bit, 1 << bit))
    return rules


@cache
def filter_bpf(for_runner: bool = False) -> bytes:
    """The filter as a BPF program, built once per process."""
    read, write = os.pipe()
    with os.fdopen(read, "rb") as source:
        with os.fdopen(write, "wb") as out:  # a few KiB: fits the pipe's buffer
            build_filter(for_runner).export_bpf(out)
        return source.read()


def filter_fd(for_runner: bool = False) -> int:
    """A fresh, sealed in-memory file holding the filter, for one bwrap `--seccomp FD` (the caller
    closes it). Nothing on disk that a tmp cleaner could delete or another user replace."""
    fd = os.memfd_create("referee-seccomp", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    try:
        os.write(fd, filter_bpf(for_runner))
        fcntl.fcntl(fd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_WRITE | fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW)
        os.lseek(fd, 0, os.SEEK_SET)
    except BaseException:
        os.close(fd)
        raise
    return fd
