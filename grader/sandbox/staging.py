"""Copy a submission's folder into a worker's folder without ever following a link.

The controller stages as root, before the worker drops to a user of its own, so
whatever it copies is handed to student code. Only regular files and
directories are copied; links, devices, FIFOs and sockets are skipped and
named (a link could point at another student's work, the reference, a system
file or ``/dev/zero``). Every directory and file is opened relative to its
parent's descriptor with ``O_NOFOLLOW`` (files also ``O_NONBLOCK``) and checked
with ``fstat`` on the opened descriptor, so an entry swapped for a link or a FIFO
after it was listed is refused, never followed or waited on. Caps on
bytes, files, depth and time stop a folder that would fill the disk or never end.

The same walk, with no target, is how ``load.py`` hashes a folder submission:
the content hash covers exactly what a worker is given.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path

from grader.messages import Message, say

MIB = 1 << 20
NOT_COPIED = {"__pycache__", ".ipynb_checkpoints", ".git"}  # never needed by the worker; a stale .pyc could even be imported
CHUNK = 1 << 20
DIRECTORY_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)


@dataclass(frozen=True)
class Caps:
    """How much of a folder is staged at most: a lesson's submission (a notebook, a few data and
    weight files) is far below each of them."""

    total_bytes: int = 64 * MIB
    files: int = 1000
    depth: int = 16  # directories below the submission's folder
    seconds: float = 60.0  # when the caller gives no deadline


@dataclass
class Staged:
    """What was staged: counts, what was left out (relative path, why), and the hash over exactly what was staged."""

    files: int = 0
    bytes: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    sha256: str = ""


class StagingRefused(Exception):
    """The folder cannot be staged (a cap was reached), as a message for the student."""

    def __init__(self, message: Message):
        self.message = message
        super().__init__(message.render("en"))


def stage(source: Path, target: Path | None = None, *, owner: int | None = None, caps: Caps = Caps(), deadline: float | None = None) -> Staged:
    """Copy ``source`` into ``target`` (created here), or with no target only walk and hash it.

    ``owner``: a user id every staged file and directory is given (the worker's, as root).
    Raises ``StagingRefused`` when a cap is reached; an entry that cannot be read is skipped
    and listed, never raised.
    """
    walk = _Walk(target, owner, caps, deadline if deadline is not None else time.monotonic() + caps.seconds)
    if target is not None:
        os.mkdir(target, 0o700)
        walk.give(target)
    try:
        top = os.open(source, DIRECTORY_FLAGS)
    except OSError:
        raise StagingRefused(say("staging_cap", cap=say("staging_unreadable"))) from None
    try:
        walk.directory(top, "", 0)
    finally:
        os.close(top)
    walk.staged.sha256 = walk.digest.hexdigest()
    return walk.staged


def skipped_summary(skipped: list[tuple[str, str]], shown: int = 10) -> Message:
    """The entries left out, as one message: the first ``shown`` named with the reason, then a count."""
    listed = [say("staging_skipped_entry", path=path, why=say(why)) for path, why in skipped[:shown]]
    entries = listed[0]
    for entry in listed[1:]:
        entries = say("and_also", first=entries, rest=entry)
    more = len(skipped) - shown
    return say("staging_skipped", entries=entries, more=say("and_more", count=more) if more > 0 else "")


class _Walk:
    def __init__(self, target: Path | None, owner: int | None, caps: Caps, deadline: float):
        self.target = target
        self.owner = owner
        self.caps = caps
        self.deadline = deadline
        self.seconds = deadline - time.monotonic()
        self.staged = Staged()
        self.digest = hashlib.sha256()

    def give(self, path: Path, fd: int | None = None) -> None:
        if self.owner is None:
            return
        if fd is not None:
            os.fchown(fd, self.owner, self.owner)
        else:
            os.chown(path, self.owner, self.owner, follow_symlinks=False)

    def in_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise StagingRefused(say("staging_cap", cap=say("staging_cap_time", seconds=round(max(self.seconds, 0), 1))))

    def directory(self, fd: int, relative: str, depth: int) -> None:
        """Stage the entries of the open directory ``fd`` (``relative`` to the submission's folder)."""
        try:
            with os.scandir(fd) as listing:
                entries = sorted(listing, key=lambda e: e.name)
        except OSError:
            self.staged.skipped.append((relative or ".", "staging_unreadable"))
            return
        for entry in entries:
            self.in_time()
            name = f"{relative}/{entry.name}" if relative else entry.name
            if entry.name in NOT_COPIED:
                continue
            try:
                mode = entry.stat(follow_symlinks=False).st_mode
            except OSError:
                self.staged.skipped.append((name, "staging_unreadable"))
                continue
            if stat.S_ISDIR(mode):
                if depth + 1 > self.caps.depth:
                    raise StagingRefused(say("staging_cap", cap=say("staging_cap_depth", depth=self.caps.depth)))
                self.subdirectory(fd, entry.name, name, depth + 1)
            elif stat.S_ISREG(mode):
                self.file(fd, entry.name, name)
            else:
                self.staged.skipped.append((name, _kind(mode)))

    def subdirectory(self, parent: int, entry: str, name: str, depth: int) -> None:
        try:
            fd = os.open(entry, DIRECTORY_FLAGS, dir_fd=parent)
        except OSError as error:  # vanished, or swapped for a link since it was listed
            self.staged.skipped.append((name, "staging_link" if error.errno in (errno.ELOOP, errno.ENOTDIR) else "staging_unreadable"))
            return
        try:
            if self.target is not None:
                os.mkdir(self.target / name, 0o700)
                self.give(self.target / name)
            self.digest.update(os.fsencode(name) + b"/\0")
            self.directory(fd, name, depth)
        finally:
            os.close(fd)

    def file(self, parent: int, entry: str, name: str) -> None:
        if self.staged.files + 1 > self.caps.files:
            raise StagingRefused(say("staging_cap", cap=say("staging_cap_files", count=self.caps.files)))
        try:
            fd = os.open(entry, OPEN_FLAGS, dir_fd=parent)
        except OSError as error:  # vanished, or swapped for a link since it was listed
            self.staged.skipped.append((name, "staging_link" if error.errno == errno.ELOOP else "staging_unreadable"))
            return
        try:
            mode = os.fstat(fd).st_mode
            if not stat.S_ISREG(mode):
                self.staged.skipped.append((name, _kind(mode)))
                return
            content = self.copy(fd, name)
        finally:
            os.close(fd)
        if content is None:
            self.staged.skipped.append((name, "staging_unreadable"))
            return
        self.staged.files += 1
        self.digest.update(os.fsencode(name) + b"\0" + content)

    def copy(self, fd: int, name: str) -> bytes | None:
        """Read the open file into the target (if any) within the byte cap; its sha256, or None if it could not be read."""
        digest = hashlib.sha256()
        out = os.open(self.target / name, CREATE_FLAGS, 0o600) if self.target is not None else None
        try:
            while True:
                self.in_time()
                room = self.caps.total_bytes - self.staged.bytes
                try:
                    chunk = os.read(fd, min(CHUNK, room + 1))
                except OSError:
                    if out is not None:
                        os.close(out)
                        out = None
                        os.unlink(self.target / name)
                    return None
                if not chunk:
                    break
                if len(chunk) > room:
                    raise StagingRefused(say("staging_cap", cap=say("staging_cap_bytes", size=size_text(self.caps.total_bytes))))
                self.staged.bytes += len(chunk)
                digest.update(chunk)
                if out is not None:
                    view = memoryview(chunk)
                    while view:
                        view = view[os.write(out, view):]
            if out is not None:
                self.give(self.target / name, out)
        finally:
            if out is not None:
                os.close(out)
        return digest.digest()


def size_text(n: int) -> str:
    return f"{n / MIB:.1f} MiB" if n >= MIB else f"{n:,} bytes"


def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "staging_link"
    if stat.S_ISFIFO(mode):
        return "staging_fifo"
    if stat.S_ISSOCK(mode):
        return "staging_socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "staging_device"
    return "staging_special"
