"""Pure models and rules: no I/O, no boto3, no clock reads (time is always passed in)."""
