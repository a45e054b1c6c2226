#!/usr/bin/env bash
# The textbook layer: z = W·x + b (3 inputs, 3 outputs), s = softmax(z), and the path
# s_0 → z_0 → W_00, where ∂s_0/∂W_00 = s_0(1 − s_0)·x_0. Each command exits 0 when the
# three backends agree.
set -euo pipefail
here="$(dirname "$0")"

gradcli layer --seed 42 --loss output --index 0 --explain 'W[0,0]'    # the chain, term by term
gradcli layer --spec "$here/layer.json" --explain 'x[2]'              # your own W, b, x
gradcli layer --in-features 5 --out-features 4 --batch 8 --seed 7 --loss mse --json >/dev/null
gradcli layer --seed 42 --json | gradcli layer --spec - --json >/dev/null   # JSON out is a spec in
