"""How an ingest answer is kept in its Powertools Idempotency record: zlib-compressed.

The record holds the first answer to a delivery so a retry gets it again. That answer lists a
summary of every alert in the delivery (an Alertmanager group carries several), and on-demand
DynamoDB bills a write per started KB of the item, once when the record is claimed and again when
the answer is saved. Compressed, a typical grouped delivery's answer fits one or two KB instead of
about five (measured in `docs/cost.md`). A record saved before this format (a plain answer) is
returned as it is, so an upgrade within a record's 24 hours answers retries unchanged.
"""

from __future__ import annotations

import base64
import json
import zlib

from aws_lambda_powertools.utilities.idempotency.serialization.custom_dict import CustomDictSerializer

PACKED_KEY = "answer_z"


def pack_answer(answer: dict[str, object]) -> dict[str, object]:
    body = json.dumps(answer, separators=(",", ":"), sort_keys=True).encode("utf-8")
    return {PACKED_KEY: base64.b64encode(zlib.compress(body, 6)).decode("ascii")}


def unpack_answer(record: dict[str, object]) -> dict[str, object]:
    packed = record.get(PACKED_KEY)
    if not isinstance(packed, str) or len(record) != 1:
        return record
    answer = json.loads(zlib.decompress(base64.b64decode(packed)))
    if not isinstance(answer, dict):
        raise ValueError("an idempotency record's packed answer is not a JSON object")
    return answer


ANSWER_SERIALIZER = CustomDictSerializer(to_dict=pack_answer, from_dict=unpack_answer)
