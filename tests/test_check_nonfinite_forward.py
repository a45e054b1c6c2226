"""A forward that is not finite at the point checked (issue 20, item 4): log-sum-exp over
a fully masked row is −inf there. That is the forward's value, not fd's failure: fd
differences the finite outputs, the note says so, and a wrong derivative of the finite
rows is still caught."""

import textwrap

import pytest
from click.testing import CliRunner

from gradcli.cli import cli

pytest.importorskip("torch")

CODE = textwrap.dedent(
    """
    import torch


    def _masked(x):
        mask = torch.zeros_like(x, dtype=torch.bool)
        mask[0] = True  # row 0 fully masked
        return x.masked_fill(mask, float("-inf"))


    def masked_lse(x):
        return torch.logsumexp(_masked(x), dim=-1)


    def masked_lse_vjp(x, g):
        return g[..., None] * torch.nan_to_num(torch.softmax(_masked(x), dim=-1))


    def masked_lse_vjp_doubled(x, g):
        return 2 * masked_lse_vjp(x, g)


    def masked_lse_vjp_nan(x, g):  # NaN where every entry is masked; autograd gives 0
        return g[..., None] * torch.softmax(_masked(x), dim=-1)
    """
)


@pytest.fixture
def run(tmp_path, monkeypatch):
    (tmp_path / "masked.py").write_text(CODE)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "200")

    def invoke(vjp):
        return CliRunner().invoke(
            cli, ["check", "masked.py:masked_lse", "--vjp", vjp, "--shape", "3x4"]
        )

    return invoke


NOTE = (
    "note: the forward is not finite at 1 of 3 outputs in trial 0 (first at [0]: -inf): where "
    "it stays that infinity as fd steps (a fully masked row), fd takes it as constant"
)


def test_a_forward_that_is_minus_inf_is_not_fds_failure(run):
    result = run("masked_lse_vjp")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("OK: yours, torch and fd (finite differences) agree on vjp")
    assert NOTE in result.output


def test_a_wrong_derivative_of_the_finite_rows_is_still_caught(run):
    result = run("masked_lse_vjp_doubled")
    assert result.exit_code == 1
    first = result.output.splitlines()[0]
    assert first == (
        "DISAGREE: vjp: torch and fd (finite differences) agree, yours differs in 24 of 36 "
        "entries, 3 of 3 trials"
    )
    assert result.output.splitlines()[1] == "  pattern: wrong by a constant factor 2"
    assert NOTE in result.output


def test_a_nan_where_autograd_gives_0_is_yours(run):
    result = run("masked_lse_vjp_nan")
    assert result.exit_code == 1
    assert result.output.startswith(
        "DISAGREE: vjp in trial 0: 4 elements not finite on yours, first at [0, 0]"
    )
