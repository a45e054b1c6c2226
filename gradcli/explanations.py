"""--explain for softmax, graph and check: an explanation added to a finished Report
(layer's is built with its run, in :mod:`gradcli.commands.layer.explain`). It sits above
the commands: it picks the command's own explainer."""

from __future__ import annotations

import dataclasses

from gradcli.report import Report


def with_explanation(report: Report, text: str | None) -> Report:
    if not text:
        return report
    if report.command == "softmax":
        from gradcli.commands.softmax import explain as explain_softmax

        return dataclasses.replace(report, explanation=explain_softmax.explain(report, text))
    if report.command == "graph":
        from gradcli.commands.graph import explain as explain_graph

        return dataclasses.replace(report, explanation=explain_graph.explain(report, text))
    if report.command == "check":
        from gradcli.commands.check.explain import explain_check

        return dataclasses.replace(report, explanation=explain_check(report, text))
    return report
