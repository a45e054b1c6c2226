"""A steep analytic function for `gradcli check`: sin(1e5·x) varies over 1e-5, below
the step of central differences, and takes complex input, so the fd reference is
refined by the complex step (docs/commands/check.md)."""

import numpy as np


def wave(x):
    return np.sin(1e5 * x)


def wave_grad(x):
    return 1e5 * np.cos(1e5 * x)  # d/dx sin(kx) = k·cos(kx)


def wave_grad_off(x):
    return (1 + 1e-8) * wave_grad(x)  # wrong by 1e-8, relative
