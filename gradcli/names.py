"""Names that the command line offers before anything is imported (no dependencies)."""

DTYPES = ("float64", "float32")
LOSSES = ("ce", "mse", "sum", "output")
BACKENDS = ("numpy", "torch", "fd")
FD_MODES = ("auto", "full", "directional")
