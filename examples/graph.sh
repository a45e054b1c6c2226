#!/usr/bin/env bash
# gradcli graph: every intermediate gradient of a small tensor program, three ways.
# Each command exits 0 when the backends agree.
set -euo pipefail
here="$(dirname "$0")"

# The PyTorch program gradcli grew from (examples/retain_grad.py), with the same draws.
gradcli graph "b = a.sum(dim=0, keepdim=True); c = a/b; y = w@c" \
    --rand w=4x10 --rand a=10x10 --seed 42 --dtype float32
# A program from a file, inputs by value, as JSON (its paths and graph included).
gradcli graph -f "$here/program.txt" --var 'x=[[1, 2, 3], [0, -1, 2]]' --rand W1=3x4 --json >/dev/null
# The softmax of the worked example, as a program.
gradcli graph "s = softmax(z, dim=0); y = s[0]" --var 'z=[3, 1, -3]'
