"""check's worker: the one process that imports and runs the user's code.

`python -P -m gradcli.commands.check.worker REQUESTS REPLIES` (two pipe descriptors;
-P keeps the current folder off sys.path, so a rich.py or shlex.py there shadows
nothing of gradcli's). Requests are pickled by the supervisor (which the worker trusts);
replies go back by `wire` (which the supervisor reads without trusting them). Its stdin
is /dev/null and its stdout and stderr are pipes the supervisor reads and shows on its
stderr as the user's: nothing here can reach gradcli's stdout.

It answers what an Evaluator is asked (check.evaluator.Local does the work) and says
nothing else: every verdict is the supervisor's. It ends when its requests end.
"""

from __future__ import annotations

import contextlib
import gc
import os
import pickle
import sys
import warnings
from typing import Any

from gradcli.commands.check.wire import WireError, encode, read_frame, write_frame


def _preload() -> None:
    """gradcli's own modules (and numpy, torch) before any user code runs: a module of
    the user's that shadows a library can then only shadow it for the user's code."""
    import numpy  # noqa: F401

    from gradcli.commands.check import build, evaluator, opened  # noqa: F401

    with contextlib.suppress(ImportError):  # a numpy-only installation: numpy forwards
        import torch  # noqa: F401


class Server:
    def __init__(self) -> None:
        self.opened: Any = None

    def handle(self, request: dict[str, Any]) -> Any:
        op = request["op"]
        if op == "load":
            return self._load(request)
        if op == "open":
            return self._open(request)
        if op == "called_stand_ins":
            from gradcli.commands.check import stand_ins

            return list(stand_ins.CALLED)
        who = self.opened.subject if request.get("who") == "subject" else self.opened.library
        from gradcli.commands.check.backends import Trial

        if op == "forward":
            return who.forward(request["points"], request["dtype"])
        if op == "forward_complex":
            return who.forward_complex(request["points"])
        trial = Trial(request["values"], tuple(request["outputs"]), request["trial_dtype"])
        if op == "yours_vjp":
            return who.yours_vjp(trial, tuple(request["cotangents"]))
        if op == "yours_jacobian":
            return who.yours_jacobian(trial)
        if op == "yours_grad":
            return who.yours_grad(trial)
        if op == "torch_vjp":
            return who.torch_vjp(trial, tuple(request["cotangents"]), request["dtype"])
        if op == "torch_jacobian":
            return who.torch_jacobian(trial, request["dtype"])
        raise ValueError(f"unknown request {op!r}")

    def _load(self, request: dict[str, Any]) -> None:
        """The CLI's first look at TARGET: its name errors come before the inputs'."""
        from gradcli import params
        from gradcli.commands.check import stand_ins
        from gradcli.commands.check.target import load

        stand_ins.install(request.get("stub", ()))  # for this process's life
        with params.as_options() if request.get("as_options") else contextlib.nullcontext():
            load(request["target"], "TARGET", debug=request["debug"])

    def _open(self, request: dict[str, Any]) -> dict[str, Any]:
        from gradcli import params
        from gradcli.commands.check import stand_ins
        from gradcli.commands.check.build import build
        from gradcli.commands.check.opened import open_local

        stand_ins.install(request.get("stub", ()))
        with params.as_options() if request.get("as_options") else contextlib.nullcontext():
            spec = build(**request["build"])
            self.opened = open_local(spec)
        library = self.opened.library
        return {
            "mode": spec.mode,
            "second": spec.second,
            "names": dict(spec.names),
            "no_grad": list(spec.no_grad),
            "drawn_parameters": [[n, v] for n, v in spec.drawn_parameters],
            "facts": self.opened.subject.facts.to_wire(),
            "library": None if library is None else library.facts.to_wire(),
            "trials": self.opened.trials,
        }


def _die_with_the_supervisor() -> None:
    """SIGKILL when the supervisor ends, however it ends (Linux's PR_SET_PDEATHSIG): a
    worker stuck in the user's code would otherwise outlive it, reading nothing."""
    import ctypes
    import signal

    parent = os.getppid()
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the requests' end still ends it
        return
    if os.getppid() != parent:  # the supervisor ended before prctl: end now
        os._exit(0)


_SIGNALLED = False


def _on_sigint(signum: int, frame: Any) -> None:
    global _SIGNALLED
    _SIGNALLED = True
    raise KeyboardInterrupt


def main(argv: list[str]) -> None:
    import signal

    _die_with_the_supervisor()
    signal.signal(signal.SIGINT, _on_sigint)
    try:
        _serve(int(argv[1]), int(argv[2]))
    except KeyboardInterrupt:  # the supervisor's SIGINT between requests
        os._exit(130)


def _serve(requests: int, replies: int) -> None:
    warnings.simplefilter("ignore")  # as gradcli's main: its stderr is the user's prints
    _preload()
    # what is loaded now lives as long as the worker: the collector need never scan it
    # again (disabling it instead kept every cycle a batch or autograd made, 280 MiB of
    # a 500 000-element check)
    gc.freeze()
    write_frame(replies, encode({"ok": "ready"}))  # the supervisor's timeout starts now
    server = Server()
    while True:
        try:
            request = pickle.loads(read_frame(requests))
        except (WireError, OSError):  # the supervisor is gone or done
            os._exit(0)
        try:
            reply: Any = {"ok": server.handle(request)}
        except KeyboardInterrupt:
            if _SIGNALLED:  # the supervisor's SIGINT (Ctrl-C): end now, quietly
                os._exit(130)
            # the user's code raised it itself: an interruption, whatever its signum says
            reply = {"interrupted": True}
        except BaseException as exc:
            reply = {"error": _message(exc, request)}
        try:
            payload = encode(reply)
        except TypeError as exc:
            payload = encode({"error": f"the reply could not be sent: {exc}"})
        try:
            write_frame(replies, payload)
        except OSError:
            os._exit(0)
        # a request's arrays caught in reference cycles (the user's code, autograd) would
        # wait for a collection that the few objects made per request rarely trigger: a
        # 500 000-element check grew by one point per request. What is left to scan
        # (gc.freeze above) is small: the collection costs microseconds.
        del request, reply, payload
        gc.collect()


def _message(exc: BaseException, request: dict[str, Any]) -> str:
    from gradcli.commands.check.guard import failure
    from gradcli.errors import InputError

    if isinstance(exc, InputError):
        return str(exc)
    # not an InputError: user code raised where gradcli did not fence it (or a gradcli
    # bug); one line either way, the traceback with --debug
    return failure("your code's process failed:", exc, bool(request.get("debug")))


if __name__ == "__main__":
    main(sys.argv)
