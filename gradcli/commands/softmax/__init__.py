"""softmax: s = softmax(z / T) and its Jacobian J_ij = s_i(δ_ij − s_j)."""
