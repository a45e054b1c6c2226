#!/usr/bin/env bash
# The worked example: softmax of the logits 3 1 -3 and its Jacobian, checked three ways.
# Each command exits 0 when numpy, torch and fd agree.
set -euo pipefail
here="$(dirname "$0")"

gradcli softmax 3 1 -3                                   # tables
gradcli softmax --input "$here/logits.json" --json       # the same logits from a file, as JSON
echo '1000 1001 1002' | gradcli softmax - --backend numpy,fd   # stable for large logits
gradcli softmax 3 1 -3 --temperature 2 --dtype float32   # a temperature, in float32
