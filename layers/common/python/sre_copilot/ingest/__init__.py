"""Pure ingestion: authenticate, parse, normalise to `Signal`, classify, fingerprint, silence, changes.

No AWS I/O here; the ingest service wires these functions to the Lambda handler, DynamoDB and SQS.
"""
