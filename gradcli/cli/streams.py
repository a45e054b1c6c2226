"""stdout and stderr as gradcli finds them: perhaps closed, perhaps not UTF-8, perhaps
with a COLUMNS that makes no sense. Prepared once, before anything is printed."""

from __future__ import annotations

import codecs
import contextlib
import io
import os
import sys

# What the math symbols become where the stream's encoding lacks them (LC_ALL=C,
# PYTHONIOENCODING=ascii): readable ASCII rather than a UnicodeEncodeError half-way.
ASCII_FALLBACK = {
    "∂": "d", "·": "*", "−": "-", "ᵀ": "^T", "×": "x", "≤": "<=", "≥": ">=", "≈": "~",
    "Σ": "sum", "δ": "delta", "√": "sqrt", "…": "...", "→": "->", "←": "<-", "±": "+-",
    "✓": "ok", "✗": "X", "│": "|", "─": "-", "—": "--", "–": "-", "‖": "||", "⟨": "<",
    "⟩": ">", "∞": "inf", "₀": "0", "₁": "1", "₂": "2", "ᵢ": "_i", "ⱼ": "_j", "′": "'",
}  # fmt: skip
FALLBACK_HANDLER = "gradcli-ascii"
# ASCII under another name: click takes a stream whose codec is named "ascii" for a
# misconfigured one and writes UTF-8 bytes past it (its --help did, on any ASCII stdout);
# under this name click writes through the stream, and FALLBACK_HANDLER applies.
ASCII_CODEC = "gradcli_ascii"
MIN_COLUMNS, MAX_COLUMNS = 40, 1000
# stdout is held back up to this many bytes and written in one piece when the run ends:
# more than a pipe's buffer (64 KiB on Linux; 1 MiB is the most an unprivileged process
# may ask for), so whether a reader that leaves early (`| head -c 10`) makes the run 141
# depends on the reader and the output's size, never on how gradcli's writes interleave
# with the reader's (a table printed line by line was 0 or 141 at random).
HOLD_BYTES = 1 << 20


def _fallback(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeEncodeError):
        raise error
    bad = error.object[error.start : error.end]
    return "".join(ASCII_FALLBACK.get(c, "?") for c in bad), error.end


class WholeWrites(io.RawIOBase):
    """stdout's file descriptor, written whole or not at all: CPython's unbuffered
    stdout (PYTHONUNBUFFERED) drops the rest of a short write without a word, so a full
    disk would truncate the JSON and still exit 0. Here the short write is continued,
    and the write that cannot be raises (ENOSPC, EFBIG): exit status 74."""

    def __init__(self, fd: int) -> None:
        super().__init__()
        self.fd = fd

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self.fd

    def isatty(self) -> bool:
        return os.isatty(self.fd)

    def write(self, data: object) -> int:
        view = memoryview(data).cast("B")  # type: ignore[arg-type]
        total = view.nbytes
        while view.nbytes:
            view = view[os.write(self.fd, view) :]
        return total


class HeldWrites(WholeWrites):
    """WholeWrites that holds the first HOLD_BYTES back until `release` (the end of the
    run) and writes them in one piece; past HOLD_BYTES, everything passes through."""

    def __init__(self, fd: int) -> None:
        super().__init__(fd)
        self.held: bytearray | None = bytearray()

    def write(self, data: object) -> int:
        if self.held is None:
            return super().write(data)
        size = memoryview(data).nbytes  # type: ignore[arg-type]
        self.held += data  # type: ignore[arg-type]
        if len(self.held) > HOLD_BYTES:
            self.release()
        return size

    def release(self) -> None:
        """Write what is held (once; a write that fails is not tried again) and pass
        everything through from now on."""
        held, self.held = self.held, None
        if held:
            super().write(held)


def _whole_stdout() -> None:
    stream = sys.stdout
    if stream is None or stream is not sys.__stdout__ or not isinstance(stream, io.TextIOWrapper):
        return  # under a test's capture, or already replaced by someone who knows
    try:
        fd = stream.fileno()
        stream.flush()
    except (OSError, ValueError):
        return
    sys.stdout = io.TextIOWrapper(
        io.BufferedWriter(HeldWrites(fd)),
        encoding=stream.encoding,
        errors=stream.errors,
        line_buffering=stream.line_buffering,
    )  # sys.__stdout__ keeps the original (and fd 1) alive


def _ascii_codec(name: str) -> codecs.CodecInfo | None:
    if name.replace("-", "_") != ASCII_CODEC:
        return None
    ascii_codec = codecs.lookup("ascii")
    return codecs.CodecInfo(
        ascii_codec.encode,
        ascii_codec.decode,
        name=ASCII_CODEC,
        incrementalencoder=ascii_codec.incrementalencoder,
        incrementaldecoder=ascii_codec.incrementaldecoder,
        streamwriter=ascii_codec.streamwriter,
        streamreader=ascii_codec.streamreader,
    )


def prepare() -> None:
    """stdout written whole; math symbols degrade to ASCII on a stream that cannot
    encode them; COLUMNS that is not a width (0, -5, 'wide') is dropped, one that is
    tiny or huge is clamped."""
    _whole_stdout()
    codecs.register_error(FALLBACK_HANDLER, _fallback)
    codecs.register(_ascii_codec)
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        encoding = getattr(stream, "encoding", None) or "ascii"
        if reconfigure is None or _encodes(encoding, "∂ᵀ·−×≤"):
            continue
        ascii_named = _codec_name(encoding) == "ascii"
        with contextlib.suppress(ValueError, OSError):  # a stream that cannot be reconfigured
            if ascii_named:
                reconfigure(encoding=ASCII_CODEC, errors=FALLBACK_HANDLER)
            else:
                reconfigure(errors=FALLBACK_HANDLER)
    columns = os.environ.get("COLUMNS")
    if columns is not None:
        if not (columns.isascii() and columns.isdigit()) or int(columns[:6]) < 1:
            del os.environ["COLUMNS"]
        else:
            width = min(max(int(columns[:6]), MIN_COLUMNS), MAX_COLUMNS)
            os.environ["COLUMNS"] = str(width)


def release_stdout() -> None:
    """Flush stdout and write what HeldWrites held: BrokenPipeError or OSError here is
    the run's output failing, as it would be at any write."""
    stream = sys.stdout
    if stream is None:
        return
    stream.flush()
    raw = getattr(getattr(stream, "buffer", None), "raw", None)
    if isinstance(raw, HeldWrites):
        raw.release()


def _codec_name(encoding: str) -> str:
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        return encoding


def _encodes(encoding: str, text: str) -> bool:
    try:
        text.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def note(message: str) -> None:
    """A message on stderr, if stderr can take it: a closed or full stderr never turns
    a result into a failure (the exit status still says what happened)."""
    stream = sys.stderr
    if stream is None:
        return
    try:
        stream.write(message + "\n")
        stream.flush()
    except (OSError, ValueError):
        pass


def pipe_closed() -> bool:
    """Whether click met a closed stdout (EPIPE): it then wraps stdout this way."""
    return type(sys.stdout).__name__.lstrip("_") == "PacifyFlushWrapper"
