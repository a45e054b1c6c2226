"""The four commands, one package each: softmax, layer, graph, check.

Each declares its inputs, quantities, backends, references and laws and hands them to
:func:`gradcli.core.judge`. A command never imports another command; what they share
(references, ops, the core, render) lives below them, and the API above them.
"""
