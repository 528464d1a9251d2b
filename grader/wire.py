"""The wire format between the grader and its worker: JSON plus raw tensor bytes.

Nothing here can execute code while decoding: headers are JSON, tensors are
rebuilt from raw bytes with a whitelisted dtype (no pickle, no ``torch.load``).
A worker that sends garbage gets a ``WireError``, never a code path.
"""

from __future__ import annotations

import json
import math
import struct

import torch

_DTYPES = {
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
    "float32": torch.float32,
    "float64": torch.float64,
    "int8": torch.int8,
    "int16": torch.int16,
    "int32": torch.int32,
    "int64": torch.int64,
    "uint8": torch.uint8,
    "bool": torch.bool,
    "complex64": torch.complex64,
    "complex128": torch.complex128,
}
_NAMES = {dtype: name for name, dtype in _DTYPES.items()}
_LENGTH = struct.Struct(">Q")
_CONTAINERS = (dict, list)  # what json.loads builds that may hold more than one value


class WireError(Exception):
    """The bytes on the wire are not a well-formed message."""


def dtype_name(dtype: torch.dtype) -> str:
    return _NAMES.get(dtype, str(dtype).removeprefix("torch."))


def crosses(dtype: torch.dtype) -> bool:
    """Whether tensors of ``dtype`` can be sent (quantized ones, for example, cannot)."""
    return dtype in _NAMES


def dtype_from_name(name: str) -> torch.dtype:
    try:
        return _DTYPES[name]
    except KeyError:
        raise WireError(f"dtype {name!r} cannot cross the wire") from None


_SCALARS = frozenset({str, int, bool, type(None)})  # exact types that JSON carries as they are


# Taken when this module is imported, before any student code runs in a worker: a submission that
# rebinds these on torch.Tensor (to make a mutated argument look untouched, say) changes nothing here.
_detach, _cpu, _numpy = torch.Tensor.detach, torch.Tensor.cpu, torch.Tensor.numpy
_resolve_conj, _resolve_neg, _contiguous = torch.Tensor.resolve_conj, torch.Tensor.resolve_neg, torch.Tensor.contiguous
_reshape, _view, _numel = torch.Tensor.reshape, torch.Tensor.view, torch.Tensor.numel


def encode(message) -> bytes:
    """Serialise plain data (dict/list/str/number/None/tensor) into one frame."""
    blobs: list[bytes] = []

    def tensor(value):  # called by the JSON encoder, in document order, for what JSON has no form for
        if isinstance(value, torch.Tensor):
            return _tensor_header(value, blobs)
        raise TypeError(f"cannot send {type(value).__name__} over the wire")

    try:
        header = json.dumps(message, default=tensor, allow_nan=False)
    except ValueError:  # a NaN or an infinity somewhere: the slower walk spells each one out
        blobs.clear()
        header = json.dumps(_spelled_out(message, blobs))
    return _frame(header.encode(), blobs)


def _spelled_out(message, blobs: list[bytes]):
    """``message`` with each non-finite float as ``{"$float": repr}`` and each tensor as its header."""

    def walk(value):
        kind = type(value)
        if kind is dict:
            return {str(key): item if type(item) in _SCALARS else walk(item) for key, item in value.items()}
        if kind is list or kind is tuple:
            return [item if type(item) in _SCALARS else walk(item) for item in value]
        if kind in _SCALARS:
            return value
        if kind is float:
            return value if math.isfinite(value) else {"$float": repr(value)}
        if isinstance(value, torch.Tensor):
            return _tensor_header(value, blobs)
        if isinstance(value, dict):
            return {str(key): walk(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [walk(item) for item in value]
        if isinstance(value, (bool, int, str)):
            return value
        if isinstance(value, float):
            return value if math.isfinite(value) else {"$float": repr(value)}
        raise TypeError(f"cannot send {type(value).__name__} over the wire")

    return walk(message)


def _frame(header: bytes, blobs: list[bytes]) -> bytes:
    parts = [_LENGTH.pack(len(header)), header, _LENGTH.pack(len(blobs))]
    for blob in blobs:
        parts += [_LENGTH.pack(len(blob)), blob]
    return b"".join(parts)


def _tensor_header(value: torch.Tensor, blobs: list[bytes]) -> dict:
    tensor = _detach(value)
    header = {"$tensor": dtype_name(tensor.dtype), "shape": list(tensor.shape)}
    if tensor.device.type == "meta":
        header["meta"] = True
        return header
    header["blob"] = len(blobs)
    blobs.append(_raw_bytes(_cpu(tensor)))
    return header


def _raw_bytes(tensor: torch.Tensor) -> bytes:
    """The elements in row-major order, as stored: through numpy where it has the dtype, else as bytes."""
    try:
        return _numpy(tensor).tobytes()
    except (TypeError, RuntimeError):  # bfloat16 has no numpy dtype; conjugate and negative views refuse
        data = _contiguous(_resolve_neg(_resolve_conj(tensor)))
        return _numpy(_view(_reshape(data, -1), torch.uint8)).tobytes() if _numel(data) else b""


def decode(frame: bytes):
    """Rebuild a message from ``encode``'s bytes; raises WireError on anything else."""
    try:
        (size,) = _LENGTH.unpack_from(frame, 0)
        offset = _LENGTH.size + size
        header = frame[_LENGTH.size : offset]
        (count,) = _LENGTH.unpack_from(frame, offset)
        offset += _LENGTH.size
        blobs = []
        for _ in range(count):
            (size,) = _LENGTH.unpack_from(frame, offset)
            offset += _LENGTH.size
            blobs.append(frame[offset : offset + size])
            offset += size
    except struct.error:
        raise WireError("truncated frame") from None
    if offset != len(frame):  # sizes that claim more than the frame holds, or bytes after the last blob
        raise WireError("truncated frame" if offset > len(frame) else "trailing bytes after frame")

    def rebuild(value: dict):  # each JSON object, innermost first
        if "$tensor" in value:
            return _tensor(value, blobs)
        if "$float" in value:
            return float(value["$float"])
        return value

    try:
        return json.loads(header, object_hook=rebuild)
    except WireError:
        raise
    except (ValueError, UnicodeDecodeError) as error:
        raise WireError(f"bad header: {error}") from None
    except Exception as error:  # noqa: BLE001 - a forged header (say, a list for a dtype) is a bad frame, never a crash
        raise WireError(f"bad header: {type(error).__name__}: {error}"[:300]) from None


def _tensor(header: dict, blobs: list[bytes]) -> torch.Tensor:
    dtype = dtype_from_name(header["$tensor"])
    shape = header.get("shape")
    if type(shape) is not list or not all(type(n) is int and n >= 0 for n in shape):
        raise WireError(f"bad tensor shape {shape!r}")
    if header.get("meta"):
        return torch.empty(shape, dtype=dtype, device="meta")
    index = header.get("blob")
    if type(index) is not int or not 0 <= index < len(blobs):
        raise WireError("tensor refers to a missing blob")
    blob = blobs[index]
    expected = math.prod(shape) * dtype.itemsize
    if len(blob) != expected:
        raise WireError(f"tensor of shape {shape} needs {expected} bytes, got {len(blob)}")
    if not blob:
        return torch.empty(shape, dtype=dtype)
    return torch.frombuffer(bytearray(blob), dtype=dtype).reshape(shape)


def framed(frame: bytes) -> bytes:
    """An encoded frame as it goes down a pipe: its length first."""
    return _LENGTH.pack(len(frame)) + frame


def write_frame(fd: int, frame: bytes) -> None:
    """Write one encoded frame, length first, all of it."""
    import os

    view = memoryview(framed(frame))
    while view:
        written = os.write(fd, view)
        view = view[written:]
