"""The independent backends, one module each, pure functions on arrays.

- :mod:`.analytic`: the hand-derived formulas in numpy;
- :mod:`.autograd`: the same forward in PyTorch, differentiated by autograd (torch is
  imported inside its functions, so that nothing else pays for it);
- :mod:`.finite_diff`: the balanced central-difference step (the differences, with
  their error estimates, are :mod:`gradcli.references`).

None of them prints or knows about click or rich.
"""
