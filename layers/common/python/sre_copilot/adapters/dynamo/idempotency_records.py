"""How an ingest answer is kept in its Powertools Idempotency record: zlib-compressed.

The record holds the first answer to a delivery so a retry gets it again. That answer lists a
summary of every alert in the delivery (an Alertmanager group carries several), and on-demand
DynamoDB bills the write that saves it per started KB of the item: 4.7 KB on average, plain, on the
cost model's FORGE replay. It is packed as the store packs incidents and signals (`_packed_doc`),
in base64 because Powertools keeps the record's data as a JSON string. A record saved before this
format (a plain answer) is returned as it is, so an upgrade within a record's 24 hours answers
retries unchanged.
"""

from __future__ import annotations

import base64
import json
import zlib

from aws_lambda_powertools.utilities.idempotency.serialization.custom_dict import CustomDictSerializer

from sre_copilot.adapters.dynamo.table import _packed_doc

PACKED_KEY = "answer_z"


def pack_answer(answer: dict[str, object]) -> dict[str, object]:
    return {PACKED_KEY: base64.b64encode(_packed_doc(answer)).decode("ascii")}


def unpack_answer(record: dict[str, object]) -> dict[str, object]:
    packed = record.get(PACKED_KEY)
    if not isinstance(packed, str) or len(record) != 1:
        return record
    answer = json.loads(zlib.decompress(base64.b64decode(packed)))
    if not isinstance(answer, dict):
        raise ValueError("an idempotency record's packed answer is not a JSON object")
    return answer


ANSWER_SERIALIZER = CustomDictSerializer(to_dict=pack_answer, from_dict=unpack_answer)
