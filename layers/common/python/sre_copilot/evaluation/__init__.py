"""Scoring runs against labelled scenarios: the measures (`measures`), the two simple baselines
(`baselines`), one scored row per scenario (`scoring`) and the offline run (`offline`), which
uses the domain code alone. A replay on the embedded backend (`local/evaluate.py`) is scored by
the same code."""
