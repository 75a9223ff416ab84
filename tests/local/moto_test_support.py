"""Helpers shared by the moto patch tests (a module with a unique name, so it imports the same way
whichever test directory pytest collects first)."""

from __future__ import annotations

import io
import os
import time
import zipfile
from typing import Any

import boto3

for _name, _value in (("AWS_DEFAULT_REGION", "us-east-1"), ("AWS_ACCESS_KEY_ID", "test"),
                      ("AWS_SECRET_ACCESS_KEY", "test")):
    os.environ.setdefault(_name, _value)


def lambda_function(name: str, role: str) -> str:
    """Create a Lambda function in moto (its code never runs: tasks are dispatched in-process)."""
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("handler.py", "")
    return str(boto3.client("lambda").create_function(
        FunctionName=name, Runtime="python3.13", Role=role, Handler="handler.handler",
        Code={"ZipFile": package.getvalue()})["FunctionArn"])


def wait_until(predicate: Any, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)
