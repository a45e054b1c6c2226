#!/usr/bin/env bash
# jq pipelines over gradcli's JSON (schema: gradcli/schemas/<command>.schema.json).
set -euo pipefail
command -v jq >/dev/null || { echo "jq is not installed: skipped"; exit 0; }

gradcli softmax 3 1 -3 --json | jq -c '.results.numpy.softmax'          # the softmax, from numpy
gradcli layer --seed 42 --json | jq -r '.verdict.summary'                # the verdict line
gradcli layer --seed 42 --json \
  | jq -c '.comparisons[] | {quantity, pair: .backends, max_abs_error}'  # the error of every pair
gradcli layer --seed 42 --json | jq '[.comparisons[] | select(.ok | not)] | length'   # how many failed: 0
gradcli graph "b = a.sum(0, keepdim=True); c = a / b; y = w @ c" --rand w=4x10 --rand a=10x10 --seed 42 --json \
  | jq '.paths.a.uses | map(.via)'                                        # the two paths into a.grad
