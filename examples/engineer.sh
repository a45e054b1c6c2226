#!/usr/bin/env bash
# gradcli check on an engineer's code: two inputs by name, a Function and a module;
# each wrong version is caught (exit 1), and the pytest helper's example runs. The
# other examples of linear.py, model.py, lowp.py (bf16) and second.py run in
# tests/test_check_*.py, in process.
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
python -m pytest -q -p no:cacheprovider "$here/test_engineer.py" >/dev/null || { echo "pytest example failed"; exit 1; }
