"""The embedded backend: moto for AWS, in-process Lambda dispatch, a simulated clock, local sinks."""
