"""gradcli as a library: the same checks as the command line, as Report objects."""

import numpy as np

import gradcli

report = gradcli.softmax([3, 1, -3])
print(report)  # <gradcli Report softmax: OK: …>
print("softmax from torch:", report.results["torch"].arrays["softmax"])

layer = gradcli.layer(
    np.eye(3), np.zeros(3), [1.0, 0.5, -1.0], loss="output", index=0, explain="W[0,0]"
)
print(layer.explanation.lines[-1] if layer.explanation else "")
worst = max(layer.comparisons, key=lambda c: c.max_abs_error)
print(f"largest difference: {worst.quantity} {worst.backends}: {worst.max_abs_error:.3g}")

graph = gradcli.graph(
    "b = a.sum(0, keepdim=True); c = a / b; y = w @ c", {"a": np.ones((3, 3)), "w": np.eye(3)}
)
print("a.grad =", graph.results["numpy"].arrays["grads.a"].tolist())
raise SystemExit(0 if report.ok and layer.ok and graph.ok else 1)
