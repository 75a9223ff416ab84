"""Deterministic reasoning engine (seed 001): context -> evidence -> hypotheses -> confidence -> policy -> recommend.

Every function here is pure: the callers (Step Functions task handlers) read the stores and pass
the data in, so the same code runs in Lambda, in replay and in unit tests. See docs/reasoning.md.
"""
