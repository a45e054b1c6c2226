"""graph: a small program of named variables, its gradients by a numpy engine, torch and fd."""
