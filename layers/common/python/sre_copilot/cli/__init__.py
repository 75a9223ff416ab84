"""The `sre-copilot` command line."""
