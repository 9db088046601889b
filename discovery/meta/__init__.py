"""The meta room's campaign side: proposers as programs (program.py). The task that scores
proposers lives in evaluators/tasks/meta/; the design is in docs/meta.md."""
