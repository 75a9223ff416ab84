"""Implementations of the ports on AWS and third-party services.

Nothing is imported here: each Lambda loads only the adapters it uses, which keeps cold starts short.
"""
