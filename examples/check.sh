#!/usr/bin/env bash
# gradcli check: a hand-derived softmax Jacobian that forgot the i ≠ j terms is caught
# (exit 1, "diagonal right, off-diagonal entries wrong"), then the fixed one passes.
set -uo pipefail
here="$(dirname "$0")"

gradcli check "$here/ops.py:softmax" --jacobian softmax_jacobian_no_cross_terms --shape 5 --quiet
status=$?
[ "$status" -eq 1 ] || { echo "expected exit 1 for the wrong Jacobian, got $status"; exit 1; }

set -e
gradcli check "$here/ops.py:softmax" --jacobian softmax_jacobian --shape 5 --quiet       # fixed: exit 0
gradcli check "$here/ops.py:Square" --shape 4x6 --quiet                                   # a Function's backward
gradcli check "$here/ops.py:SquareForgotTwo" --shape 4x6 --quiet || [ $? -eq 1 ]          # wrong by a factor 0.5
