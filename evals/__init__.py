"""Evaluation harness: exact IF/CC/GA/SR scoring on MICE-World sessions, the runner, reports, splits."""
