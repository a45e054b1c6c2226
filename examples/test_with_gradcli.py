"""gradcli in a pytest suite: `pytest examples/test_with_gradcli.py`.

assert_backends_agree fails with the worst element and both values, not a bare False.
"""

import numpy as np

import gradcli
from gradcli.testing import assert_backends_agree


def test_softmax_layer_gradients_agree():
    rng = np.random.default_rng(0)
    w, b, x = rng.normal(size=(4, 5)), rng.normal(size=4), rng.normal(size=(3, 5))
    assert_backends_agree(gradcli.layer(w, b, x, loss="ce", targets=[0, 2, 1]))


def test_a_program_with_two_paths():
    assert_backends_agree(gradcli.graph("y = (a * a).sum()", {"a": [1.0, -2.0, 3.0]}))
