"""gradcli.check, the library's `gradcli check` (beside gradcli.api, which re-exports it):
your derivative against autograd and finite differences. Its arguments are checked in
gradcli.arguments. With worker=True the code runs in worker processes of its own
(commands/check/supervisor); `workers_started` starts them ahead of the call."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from gradcli.arguments import drawn, plot_fits

if TYPE_CHECKING:
    from gradcli.commands.check.supervisor import Session
    from gradcli.report import Report

CHECK_BACKENDS = ("torch", "fd")  # what your derivative is checked against (it always runs)
# The workers `workers_started` started, for the gradcli.check(worker=True) in its block
_STARTED: ContextVar[Session | None] = ContextVar("gradcli_workers_started", default=None)


def check(
    forward: Any,
    *,
    jacobian: Any = None,
    vjp: Any = None,
    grad: Any = None,
    hvp: Any = None,
    x: Any = None,
    shape: Any = None,
    inputs: Mapping[str, Any] | None = None,
    shapes: Mapping[str, Any] | None = None,
    args: Mapping[str, Any] | None = None,
    seed: int = 0,
    trials: int = 3,
    trial: int | None = None,
    scale: float | Mapping[str, float] = 1.0,
    dist: str | Mapping[str, str] = "normal",
    explain: str | None = None,
    taylor: bool = False,
    order: int = 1,
    against: Any = None,
    no_grad: Iterable[str] = (),
    stub: Iterable[str] = (),
    surrogate: str | float | None = None,
    full: bool = False,
    debug: bool = False,
    dtype: str = "float64",
    backends: Iterable[str] = CHECK_BACKENDS,
    rtol: float | None = None,
    atol: float | None = None,
    plot: str | None = None,
    worker: bool = False,
    jobs: int = 1,
    timeout: float | None = None,
) -> Report:
    """Your derivative against autograd of your forward and finite differences.

    As ``gradcli check``. Called here, your code runs in this process: gradcli passes
    it private copies and sends its prints to stderr, but what it does to the process
    (ends it with ``os._exit``, writes to file descriptor 1, changes directory, installs
    signal handlers, patches gradcli) is not guarded against. ``worker=True``, with the
    code named by "path.py:name" strings, runs it in processes of its own, as
    ``gradcli check`` does.

    Parameters
    ----------
    forward : callable or str
        A function of one or more arrays (numpy or torch) returning one array or a
        tuple; a torch.autograd.Function class (its backward is checked); an nn.Module
        (every parameter's gradient and the input's are checked); or "path.py:name".
    jacobian, vjp, grad, hvp : callable or str, optional
        One derivative to check: FN(x) -> (outputs, inputs); FN(x, g) -> like x;
        FN(x) -> like x (elementwise); FN(x, v) = H·v of a scalar forward. A string is
        "path.py:name", or a name in the forward's module when `forward` is one.
    x, shape : optional
        One input: `x` given, or `trials` arrays of `shape` drawn from `seed`.
    inputs, shapes : mapping, optional
        Several inputs, named after the forward's parameters: given by value, or
        drawn with these shapes.
    args : mapping, optional
        Non-array arguments of the forward, by keyword.
    seed, trials : int
        The seed of the drawn inputs and how many trials to draw (1 to 100).
    trial : int, optional
        Check trial K alone, drawn as among the `trials` (a failure's rerun).
    scale : float or mapping
        Scale of the drawn inputs; a mapping gives it by name, the key "" for every
        input not named (``{"": 2, "W": 0.1}``).
    dist : {"normal", "uniform"} or mapping
        scale·N(0, 1), or uniform in ±scale; a mapping by name, as `scale`.
    explain : str, optional
        One entry in every trial: yours, each reference, fd's one-sided slopes.
    taylor : bool
        Also the Taylor test: the remainder's rate as h halves (2 right, 1 wrong).
    order : {1, 2}
        2: a Function's backward is itself differentiated and checked.
    against : callable or str, optional
        A library function (or its dotted path, "torch.nn.functional.gelu") whose
        forward and autograd are one more reference.
    no_grad : iterable of str
        Inputs passed to your code but not differentiated (a mask, an index).
    surrogate : {"identity", "negated"} or float, optional
        Your backward is meant not to be the derivative: the identity (a
        straight-through estimator), the derivative negated, or K times it (-0.5: a
        gradient reversal layer). Yours is then held to that surrogate, as a law, and
        the verdict is OK only if it is; torch and fd still check each other.
    stub : iterable of str
        Modules your code imports but the check does not need (``["torchviz"]``): while
        the check runs they are stand-ins (every name in them one too; a decorator
        leaves the function as it is); the note says which your code called.
    full : bool
        Check element by element however large the input.
    debug : bool
        Let an error in your code raise with its traceback.
    dtype : {"float64", "float32", "float16", "bfloat16"}
        The precision your code runs in; the references run in float64.
    backends : iterable of str
        What your derivative is checked against: "torch", "fd" or both.
    rtol, atol, plot
        As for :func:`softmax`.
    worker : bool
        Run your code in worker processes (forward, derivative and `against` given as
        "path.py:name" strings): whatever it does there, the Report is gradcli's.
    jobs : int
        With `worker`: the worker processes (1 to 64) that share the forward's
        evaluations.
    timeout : float, optional
        With `worker`: seconds one request to your code may take before its process is
        ended (an InputError naming what it was running).

    Returns
    -------
    Report
        ``.ok`` is False when your derivative differs from the references.

    Raises
    ------
    gradcli.InputError
        A bad argument, a forward or derivative that cannot be called or fails.

    Examples
    --------
    >>> import numpy as np, gradcli
    >>> report = gradcli.check(np.sin, grad=np.cos, shape=(2, 3), backends=["fd"])
    >>> report.ok
    True
    >>> gradcli.check(np.sin, grad=np.sin, shape=3, backends=["fd"]).ok
    False
    """
    from gradcli import params
    from gradcli.arguments import check_request, check_spec, workers
    from gradcli.check_inputs import Inputs
    from gradcli.commands.check import stand_ins
    from gradcli.errors import InputError

    jobs, timeout = workers(jobs, timeout)
    if not isinstance(worker, bool):
        raise InputError(f"worker {worker!r}: expected True or False"[:120])
    if not worker and (jobs != 1 or timeout is not None):
        raise InputError("jobs and timeout are for worker=True: the code runs in this process")
    arguments: dict[str, Any] = {
        "trials": trials, "seed": seed, "trial": trial, "explain": explain, "taylor": taylor,
        "full": full, "debug": debug, "dtype": dtype, "backends": backends, "rtol": rtol,
        "atol": atol, "args": args, "order": order, "against": against, "no_grad": no_grad,
        "surrogate": surrogate,
    }  # fmt: skip
    stubbed = stand_ins.names(stub, params.named("stub", "--stub"))
    derivatives = {"jacobian": jacobian, "vjp": vjp, "grad": grad, "hvp": hvp}
    given = Inputs(x, shape, inputs, shapes, scale, dist)
    if not worker:
        from gradcli.commands.check import problem

        with stand_ins.stand_ins(stubbed):  # the import system put back after
            spec = check_spec(forward, derivatives, given, **arguments, stubbed=stubbed)
            if plot is not None:
                plot_fits(plot)
            report = problem.run(spec)
        return drawn(report, plot)
    from gradcli.commands.check import supervisor

    request = check_request(forward, derivatives, given, **arguments, stubbed=stubbed)
    if plot is not None:
        plot_fits(plot)
    started = _STARTED.get()
    if started is not None and started.target == forward:
        return drawn(started.check(request), plot)
    return drawn(supervisor.check(request, jobs=jobs, timeout=timeout), plot)


@contextlib.contextmanager
def workers_started(
    target: str,
    *,
    jobs: int = 1,
    timeout: float | None = None,
    debug: bool = False,
    stub: Sequence[str] = (),
) -> Iterator[None]:
    """Start the workers of a gradcli.check(target, worker=True) to come in this block,
    and their import of `target`, now: the import of torch and of the code overlaps what
    the caller does meanwhile (the CLI reads its inputs). An error of the target's own
    comes before any the block raises; the workers are ended when the block is."""
    from gradcli.arguments import workers
    from gradcli.commands.check.workers import Worker
    from gradcli.errors import InputError

    jobs, timeout = workers(jobs, timeout)
    started = [Worker(timeout) for _ in range(jobs)]  # before numpy is imported here
    try:
        from gradcli.commands.check.supervisor import Session
    except BaseException:
        for worker in started:
            worker.close()
        raise
    with Session(started=started) as session:
        from gradcli import params

        session.load(target, debug, stub, as_options=params.named("", "cli") == "cli")
        token = _STARTED.set(session)
        try:
            yield
        except InputError:
            session.loaded()  # the target's error, if it has one, first
            raise
        finally:
            _STARTED.reset(token)
