"""The store: what a grading process learns once, kept on disk for the next process.

A class run learns as it goes: the examples of every property that held (replayed
for the next subject, ``replay.py``) and the reference's own outcomes (XOR training,
the flower baselines). A cold process, one submission per Gradescope container, CI
run or self-check, would pay for all of it again. The store keeps it between processes.

What is stored is data only: JSON and raw tensor bytes in the wire format (``wire.py``),
never pickle, and only the types drawn values are made of. Nothing read from it can run
code, and nothing in it decides a verdict alone: a replayed example is checked against the
grader's own formula as a generated one is, and one that fails or draws differently sends
the property through Hypothesis in full. What a store can change is which inputs a passing
property is checked on, so it is trusted only when it is the grader's own:

* written only by the grading process, in a folder of its own user that no other user may
  write (the worker runs as another user where the sandbox holds, and does not even see it:
  ``workermanage.grader_directories``);
* sealed with an HMAC under a key kept beside it, readable by that user alone, so a store
  changed by anyone who cannot read that key, or copied from another machine, is refused;
* keyed by everything that decides what is learned: propgrade's source, the versions of
  torch, Hypothesis and Python, the machine's architecture, seed, profile and device. The
  assignment decides which properties run and how the subject spells its names, both in each
  entry's key; points, visibility and limits change no draw.

A store that is missing, unreadable, foreign, stale, tampered or too large is ignored (and
rebuilt by this run); grading never depends on it. On a student's own machine the student
owns the store: editing it can only change their own self-check, never a course's grade.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import os
import platform
import re
import stat
import tempfile
import time
import weakref
from pathlib import Path

import torch

from typing import TYPE_CHECKING

from grader import wire

if TYPE_CHECKING:
    from grader.replay import PassingExamples

FORMAT = 1
MAGIC = b"propgrade store 1\n"
SEAL_BYTES = 32
KEY_FILE = "seal.key"
MAX_BYTES = 128 << 20
ENV = "PROPGRADE_STORE"  # a folder, or "off"
UNUSED_DAYS = 30  # a store file no grading has read or written for this long is removed when another is written


class Unstorable(TypeError):
    """A value the store does not carry (it stays in this process only)."""


class Refused(Exception):
    """Why a store on disk was not used."""


# --- values: JSON plus raw tensor bytes, in the wire format ---------------------------------------

def _to_wire(value):
    """A value made of what draws and reference outcomes are made of, in wire-format terms with
    tags for what JSON alone would lose (tuples, dtypes, bytes, non-string keys)."""
    kind = type(value)
    if value is None or kind in (bool, int, str, float):
        return value
    if kind is tuple:
        return {"$tuple": [_to_wire(item) for item in value]}
    if kind is list:
        return [_to_wire(item) for item in value]
    if isinstance(value, dict):
        return {"$dict": [[_to_wire(k), _to_wire(v)] for k, v in value.items()]}
    if kind is bytes:
        return {"$bytes": torch.frombuffer(bytearray(value), dtype=torch.uint8) if value else torch.empty(0, dtype=torch.uint8)}
    if isinstance(value, torch.dtype) and wire.crosses(value):
        return {"$dtype": wire.dtype_name(value)}
    if type(value) is torch.Tensor and value.layout == torch.strided and not value.requires_grad and wire.crosses(value.dtype):
        if value.device.type not in ("cpu", "meta"):
            raise Unstorable(f"a tensor on {value.device}")
        return value
    raise Unstorable(type(value).__name__)


def _from_wire(value):
    kind = type(value)
    if kind is list:
        return [_from_wire(item) for item in value]
    if kind is not dict:
        return value
    if len(value) != 1:
        raise Refused("an untagged mapping")
    (tag, inner), = value.items()
    if tag == "$tuple" and type(inner) is list:
        return tuple(_from_wire(item) for item in inner)
    if tag == "$dict" and type(inner) is list and all(type(pair) is list and len(pair) == 2 for pair in inner):
        return {_from_wire(k): _from_wire(v) for k, v in inner}
    if tag == "$bytes" and isinstance(inner, torch.Tensor) and inner.dtype == torch.uint8 and inner.dim() == 1:
        return wire._numpy(inner).tobytes() if inner.numel() else b""
    if tag == "$dtype" and type(inner) is str:
        return wire.dtype_from_name(inner)
    raise Refused(f"an unknown tag {tag!r}")


def encode(value) -> bytes:
    return wire.encode(_to_wire(value))


def decode(frame: bytes):
    try:
        return _from_wire(wire.decode(frame))
    except (wire.WireError, TypeError, ValueError) as error:
        raise Refused(f"malformed content: {error}") from None


# --- what is learned once per process ------------------------------------------------------------

REMEMBERED: dict[str, dict] = {}


def remembered(function):
    """``functools.cache`` for a reference outcome, whose answers the store also keeps: the same
    arguments give the same answer in every process with the same source and versions."""
    name = f"{function.__module__}.{function.__qualname__}"
    REMEMBERED.setdefault(name, {})

    @functools.wraps(function)
    def cached(*args, **kwargs):
        table = REMEMBERED[name]
        key = (args, tuple(sorted(kwargs.items()))) if kwargs else (args, ())
        try:
            return table[key]
        except KeyError:
            value = table[key] = function(*args, **kwargs)
            return value

    return cached


@functools.cache
def source_digest() -> str:
    """Of the grader's and the reference's own code: a stored answer is only as good as the code that
    learned it (a version number alone would not change while propgrade is developed)."""
    import grader
    import reference

    digest = hashlib.sha256()
    for package in (Path(grader.__file__).parent, Path(reference.__file__).parent):
        for path in sorted(package.rglob("*.py")):
            digest.update(str(path.relative_to(package.parent)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:24]


def store_key(seed: int, profile: str, device: str) -> dict:
    import hypothesis

    from grader import __version__

    return {
        "format": FORMAT, "propgrade": __version__, "source": source_digest(), "torch": str(torch.__version__),
        "hypothesis": hypothesis.__version__, "python": platform.python_version(), "machine": platform.machine(),
        "seed": seed, "profile": profile, "device": device,
    }


def default_folder() -> Path | None:
    """``$PROPGRADE_STORE`` ("off": none), else the user's cache folder."""
    chosen = os.environ.get(ENV)
    if chosen is not None:
        return None if chosen.strip().lower() in ("", "off", "0", "none") else Path(chosen)
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "propgrade"


# --- the folder and its seal ---------------------------------------------------------------------

def _owned(info: os.stat_result, name: str, is_kind, kind: str, others: int, may: str) -> None:
    """``info`` is of the right kind, belongs to this user, and gives other users none of the ``others`` bits."""
    if not is_kind(info.st_mode):
        raise Refused(f"{name} is not {kind}")
    if hasattr(os, "geteuid") and info.st_uid != os.geteuid():
        raise Refused(f"{name} belongs to another user")
    if info.st_mode & others:
        raise Refused(f"{name} may be {may} by other users")


def _private_folder(folder: Path, create: bool) -> None:
    """The folder is this user's and nobody else may write into it; created so when missing."""
    if create:
        try:
            folder.mkdir(mode=0o700, parents=True)
        except FileExistsError:
            pass
        except OSError as error:
            raise Refused(f"cannot create {folder}: {error.strerror}") from None
    try:
        info = os.lstat(folder)
    except OSError as error:
        raise Refused(f"{folder}: {error.strerror}") from None
    _owned(info, str(folder), stat.S_ISDIR, "a folder", 0o022, "written")


def _read_private(path: Path, cap: int) -> bytes | None:
    """A regular file of this user that only this user may read or write; None when there is none."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        return None
    except OSError as error:
        raise Refused(f"{path.name}: {error.strerror}") from None
    with os.fdopen(fd, "rb") as file:
        _owned(os.fstat(fd), path.name, stat.S_ISREG, "a regular file", 0o077, "read or written")
        data = file.read(cap + 1)
    if len(data) > cap:
        raise Refused(f"{path.name} is larger than {cap} bytes")
    return data


def _write_private(folder: Path, name: str, data: bytes) -> None:
    """Written whole or not at all (a reader never sees half a file), readable by this user alone."""
    fd, temporary = tempfile.mkstemp(dir=folder, prefix=f".{name}.")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
        os.replace(temporary, folder / name)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


def _seal_key(folder: Path, create: bool) -> bytes:
    key = _read_private(folder / KEY_FILE, SEAL_BYTES)
    if key is None and create:
        try:
            fd = os.open(folder / KEY_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        except FileExistsError:  # another grading process made it meanwhile
            return _seal_key(folder, create=False)
        with os.fdopen(fd, "wb") as file:
            file.write(os.urandom(SEAL_BYTES))
        key = _read_private(folder / KEY_FILE, SEAL_BYTES)
    if key is None or len(key) != SEAL_BYTES:
        raise Refused("no seal key")
    return key


# --- the store -----------------------------------------------------------------------------------

class Store:
    """One store file: what was learned under one key, in one folder (a plain value, sent to pool controllers)."""

    def __init__(self, folder: Path, key: dict):
        self.folder = Path(folder)
        self.key = key
        self.path = self.folder / (hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:24] + ".store")

    def read(self) -> dict | None:
        """The store's content, checked; None when there is none yet. Raises Refused when it cannot be trusted."""
        if not os.path.lexists(self.folder):
            return None
        _private_folder(self.folder, create=False)
        data = _read_private(self.path, MAX_BYTES + len(MAGIC) + SEAL_BYTES)
        if data is None:
            return None
        if not data.startswith(MAGIC) or len(data) < len(MAGIC) + SEAL_BYTES:
            raise Refused("not a propgrade store")
        frame, seal = data[len(MAGIC):-SEAL_BYTES], data[-SEAL_BYTES:]
        if not hmac.compare_digest(seal, hmac.new(_seal_key(self.folder, create=False), frame, hashlib.sha256).digest()):
            raise Refused("its seal does not match (changed, or made elsewhere)")
        content = decode(frame)
        if type(content) is not dict or content.get("key") != self.key:
            raise Refused("made under another key")
        return content

    def write(self, content: dict) -> None:
        _private_folder(self.folder, create=True)
        frame = encode({**content, "key": self.key})
        if len(frame) > MAX_BYTES:
            raise Refused(f"it would be larger than {MAX_BYTES} bytes")
        seal = hmac.new(_seal_key(self.folder, create=True), frame, hashlib.sha256).digest()
        _write_private(self.folder, self.path.name, MAGIC + frame + seal)
        remove_unused(self.folder)

    def mark_used(self) -> None:
        """Its time of last use (the file's modification time), which keeps ``remove_unused`` away from it."""
        try:
            os.utime(self.path, follow_symlinks=False)
        except OSError:
            pass


STORE_NAME = re.compile(r"[0-9a-f]{24}\.store")


def remove_unused(folder: Path, days: float = UNUSED_DAYS) -> list[str]:
    """Remove the store files in ``folder`` that no grading has used for ``days``: each new propgrade, PyTorch or
    assignment gets a store of its own (about 1-3 MB), and the old ones would otherwise stay for good. Only plain
    files with a store's name are touched; returns the names removed."""
    removed = []
    cutoff = time.time() - days * 86400
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        try:
            if STORE_NAME.fullmatch(entry.name) and entry.is_file(follow_symlinks=False) and entry.stat(follow_symlinks=False).st_mtime < cutoff:
                os.unlink(entry.path)
                removed.append(entry.name)
        except OSError:
            continue
    return removed


def _storable(value) -> bool:
    try:
        _to_wire(value)
    except Unstorable:
        return False
    return True


def _examples_content(examples: PassingExamples, seed: int, profile: str) -> list:
    kept = []
    for key, found in examples.items():
        if key[1] != seed or key[2] != profile:
            continue
        entry = [key, [[example.draws, example.requests] for example in found]]
        if _storable(entry):
            kept.append(entry)
    return kept


def _memo_content() -> list:
    kept = []
    for name, table in REMEMBERED.items():
        for arguments, answer in table.items():
            if _storable([name, arguments, answer]):
                kept.append([name, arguments, answer])
    return kept


def _install(content: dict, examples: PassingExamples) -> None:
    """Into this process: only entries of the exact shapes the store writes; anything else refuses the whole store."""
    from grader.replay import Example

    entries, memos = content.get("examples"), content.get("remembered")
    if type(entries) is not list or type(memos) is not list:
        raise Refused("malformed content")
    staged_examples, staged_memos = [], []
    for entry in entries:
        if type(entry) is not list or len(entry) != 2 or type(entry[0]) is not tuple or type(entry[1]) is not list:
            raise Refused("malformed example entry")
        found = []
        for item in entry[1]:
            if type(item) is not list or len(item) != 2:
                raise Refused("malformed example")
            draws, requests = item
            if type(draws) is not list or not all(type(d) is tuple and len(d) == 2 and (d[0] is None or type(d[0]) is str) for d in draws):
                raise Refused("malformed draws")
            if type(requests) is not list or not all(type(r) is tuple and len(r) == 2 and type(r[0]) is bytes and type(r[1]) is bool for r in requests):
                raise Refused("malformed requests")
            found.append(Example(draws, requests))
        staged_examples.append((entry[0], found))
    for memo in memos:
        if type(memo) is not list or len(memo) != 3 or type(memo[0]) is not str or type(memo[1]) is not tuple or memo[0] not in REMEMBERED:
            raise Refused("malformed reference outcome")
        staged_memos.append(memo)
    for key, found in staged_examples:
        if examples.get(key) is None:
            examples.keep(key, found)
    for name, arguments, answer in staged_memos:
        REMEMBERED[name].setdefault(arguments, answer)


def _learned_size(examples: PassingExamples) -> int:
    return len(examples) + sum(len(table) for table in REMEMBERED.values())


# For each set of kept examples (one per process, but tests make their own), each store taken in and
# how much had been learned when it was last loaded or written.
_TAKEN: "weakref.WeakKeyDictionary[PassingExamples, dict[Path, int]]" = weakref.WeakKeyDictionary()


# Every store folder this process has used: workers must not see them (``workermanage.grader_directories``).
IN_USE: set[str] = set()


def attach(store: Store | None, examples: PassingExamples) -> str | None:
    """Take what ``store`` holds into this process (once per store); returns why it was not used, if it was not."""
    taken = _TAKEN.setdefault(examples, {})
    if store is None or store.path in taken:
        return None
    IN_USE.update({os.path.abspath(store.folder), os.path.realpath(store.folder)})
    try:
        content = store.read()
        if content is not None:
            _install(content, examples)
            store.mark_used()
    except Refused as refused:
        return f"the store {store.path} was not used: {refused}"
    finally:
        taken[store.path] = _learned_size(examples)
    return None


def keep(store: Store | None, examples: PassingExamples, seed: int, profile: str) -> str | None:
    """Write what this process has learned since it last loaded or wrote ``store`` (nothing when it learned
    nothing); returns why it could not, if it could not. What another process wrote meanwhile is kept too."""
    taken = _TAKEN.setdefault(examples, {})
    if store is None or _learned_size(examples) <= taken.get(store.path, -1):
        return None
    try:
        try:
            content = store.read()
            if content is not None:
                _install(content, examples)
        except Refused:
            pass  # replaced by what this process learned
        store.write({"examples": _examples_content(examples, seed, profile), "remembered": _memo_content()})
    except (Refused, Unstorable, OSError) as error:
        return f"the store {store.path} was not written: {getattr(error, 'strerror', None) or error}"
    finally:
        taken[store.path] = _learned_size(examples)
    return None


def store_for(seed: int, profile: str, device: str, folder: Path | None | str = "default") -> Store | None:
    """The store for grading under these settings: in ``folder`` (by default ``default_folder()``); None for none."""
    folder = default_folder() if folder == "default" else folder
    return None if folder is None else Store(Path(folder), store_key(seed, profile, device))
