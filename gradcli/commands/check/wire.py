"""The messages between check's supervisor and its worker: a tree of dicts, lists,
tuples, strings, numbers and numpy arrays, framed by its length.

The worker runs untrusted code, so what it sends is read without pickle: the tree is
JSON, each array `np.save`d with allow_pickle=False (its dtype must be a number type),
so that nothing the worker writes can run code in the supervisor. A frame that does not
parse is a broken worker (WireError), never a traceback.
"""

from __future__ import annotations

import io
import json
import os
import struct
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # numpy is imported when a message is made or read: starting a
    import numpy as np  # worker (workers.Worker) needs only the framing

    Array = np.ndarray[Any, Any]
HEADER = struct.Struct("<Q")  # the payload's length
MAX_FRAME = 1 << 34  # 16 GiB: beyond any check's arrays (MAX_CHECK_ELEMENTS)
NUMBER_KINDS = "fcbiu"  # floats, complex, bool, ints: what a check exchanges


class WireError(Exception):
    """The other side sent something that is not a message, or ended mid-frame."""


def encode(tree: Any) -> bytes:
    import numpy as np

    arrays: list[bytes] = []

    def skeleton(value: Any) -> Any:
        if isinstance(value, np.ndarray):
            buffer = io.BytesIO()
            np.save(buffer, value, allow_pickle=False)
            arrays.append(buffer.getvalue())
            return {"@a": len(arrays) - 1}
        if isinstance(value, np.generic):
            return skeleton(np.asarray(value))
        if isinstance(value, tuple):
            return {"@t": [skeleton(v) for v in value]}
        if isinstance(value, list):
            return [skeleton(v) for v in value]
        if isinstance(value, dict):
            if not all(isinstance(k, str) for k in value):  # (output, input) keys
                return {"@d": [[skeleton(k), skeleton(v)] for k, v in value.items()]}
            return {"@m": {k: skeleton(v) for k, v in value.items()}}
        if isinstance(value, float) and not np.isfinite(value):
            return {"@f": repr(value)}
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        raise TypeError(f"cannot send {type(value).__name__}")

    head = json.dumps(skeleton(tree)).encode()
    parts = [HEADER.pack(len(head)), head]
    for blob in arrays:
        parts += [HEADER.pack(len(blob)), blob]
    return b"".join(parts)


def decode(payload: bytes) -> Any:
    import numpy as np

    try:
        (length,) = HEADER.unpack_from(payload, 0)
        head = json.loads(payload[HEADER.size : HEADER.size + length])
        offset = HEADER.size + length
        blobs: list[Array] = []
        while offset < len(payload):
            (size,) = HEADER.unpack_from(payload, offset)
            offset += HEADER.size
            array = np.load(io.BytesIO(payload[offset : offset + size]), allow_pickle=False)
            if array.dtype.kind not in NUMBER_KINDS:
                raise WireError(f"an array of {array.dtype}")
            blobs.append(array)
            offset += size
        return _tree(head, blobs)
    except WireError:
        raise
    except Exception as exc:  # any malformed frame: struct, json, np.load, a bad index
        raise WireError(f"{type(exc).__name__}: {exc}") from None


def _tree(value: Any, blobs: list[Array]) -> Any:
    if isinstance(value, list):
        return [_tree(v, blobs) for v in value]
    if not isinstance(value, dict):
        return value
    if "@a" in value:
        return blobs[int(value["@a"])]
    if "@t" in value:
        return tuple(_tree(v, blobs) for v in value["@t"])
    if "@m" in value:
        return {str(k): _tree(v, blobs) for k, v in value["@m"].items()}
    if "@d" in value:
        return {_hashable(_tree(k, blobs)): _tree(v, blobs) for k, v in value["@d"]}
    if "@f" in value:
        return float(value["@f"])
    raise WireError("an unknown node")


def _hashable(key: Any) -> Any:
    return tuple(key) if isinstance(key, list) else key


def write_frame(fd: int, payload: bytes) -> None:
    data = memoryview(HEADER.pack(len(payload)) + payload)
    while data:
        data = data[os.write(fd, data) :]


def read_exactly(fd: int, size: int) -> bytes:
    """`size` bytes from `fd` (blocking), or WireError at end of file."""
    chunks: list[bytes] = []
    while size:
        chunk = os.read(fd, min(size, 1 << 20))
        if not chunk:
            raise WireError("end of file")
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def read_frame(fd: int) -> bytes:
    (size,) = HEADER.unpack(read_exactly(fd, HEADER.size))
    if size > MAX_FRAME:
        raise WireError(f"a frame of {size} bytes")
    return read_exactly(fd, size)
