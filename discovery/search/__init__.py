"""The search's parts: edits and their checks, parent selection, novelty, constant tuning."""
