#!/usr/bin/env bash
# gradcli check on an engineer's code: two inputs by name, a Function, a module, a
# bf16 backward; each wrong version is caught (exit 1). The right versions of each, and
# the other examples of linear.py, model.py and lowp.py, run in tests/test_check_*.py.
set -uo pipefail
here="$(dirname "$0")"

expect() {  # expect STATUS gradcli check ...
    local want=$1; shift
    "$@" --quiet
    local got=$?
    [ "$got" -eq "$want" ] || { echo "expected exit $want, got $got: $*"; exit 1; }
}

expect 0 gradcli check "$here/linear.py:linear" --vjp linear_vjp --shape x=8x16 --shape W=16x4 --shape b=4
expect 1 gradcli check "$here/linear.py:MyLinearWrongW" --shape x=8x16 --shape W=16x4
expect 1 gradcli check "$here/model.py:NetDropsATerm" --shape x=8x16
expect 1 gradcli check "$here/lowp.py:LinearBf16Sum" --shape x=4096x8 --shape W=8x4 --dtype bfloat16
python -m pytest -q -p no:cacheprovider "$here/test_engineer.py" >/dev/null || { echo "pytest example failed"; exit 1; }
