"""The memory backend: DynamoDB, S3, SQS and Firehose held in this process, behind the same adapters.

`sre-copilot replay --backend memory` and `eval --backend memory` run the real services and the
real `statemachines/incident.asl.json` (moto's Step Functions, in-process Lambda dispatch) with
only the table, the bucket, the queues and the raw-archive stream here instead of in moto: the
adapters (`DynamoStore`, `S3Blobs`, `SqsSignalQueue`, `FirehoseRawArchive`, Powertools
Idempotency) get these objects as their clients and run unchanged, so the backends cannot
disagree on keys, conditions or error handling.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sre_copilot.adapters.memory.dynamodb import MemoryDynamoDB
from sre_copilot.adapters.memory.firehose import MemoryFirehose
from sre_copilot.adapters.memory.s3 import MemoryS3
from sre_copilot.adapters.memory.sqs import MemorySQS

SERVICES = ("dynamodb", "s3", "sqs", "firehose")


@dataclass
class MemoryAws:
    """One process's in-memory DynamoDB, S3 and SQS, and the Firehose stream that writes to S3."""

    dynamodb: MemoryDynamoDB = field(default_factory=MemoryDynamoDB)
    s3: MemoryS3 = field(default_factory=MemoryS3)
    sqs: MemorySQS = field(default_factory=MemorySQS)
    firehose: MemoryFirehose = field(init=False)

    def __post_init__(self) -> None:
        self.firehose = MemoryFirehose(self.s3)

    def client(self, service: str) -> Any:
        if service not in SERVICES:
            raise ValueError(f"the memory backend holds {', '.join(SERVICES)}, not {service}")
        return getattr(self, service)


__all__ = ["SERVICES", "MemoryAws", "MemoryDynamoDB", "MemoryFirehose", "MemoryS3", "MemorySQS"]
