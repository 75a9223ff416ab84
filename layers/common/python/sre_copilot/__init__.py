"""SRE Copilot: the shared domain package used by every Lambda, the local runtime and the CLI."""

__version__ = "0.1.0"
