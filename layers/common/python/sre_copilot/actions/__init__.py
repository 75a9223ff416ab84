"""Remediation planning, the policy matcher, safety gates and approval routing (seed 001, execution layer)."""
