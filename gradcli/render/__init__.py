"""Renderers: rich tables for people (:mod:`.table`), JSON for pipes (:mod:`.json`)."""
