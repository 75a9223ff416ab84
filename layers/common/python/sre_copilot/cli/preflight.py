"""Checks that turn predictable failures into one plain sentence before long work starts."""

from __future__ import annotations

import os
from pathlib import Path

from sre_copilot.errors import ConfigurationError, InvalidPayload


def writable_output(path: Path) -> None:
    """`--out` can be written: its folder exists and is writable, and it is not a folder itself."""
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise InvalidPayload(f"--out {path} is a directory; give a file name, e.g. {path / 'result.json'}")
    if not folder.is_dir():
        raise InvalidPayload(f"cannot write --out {path}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise InvalidPayload(f"cannot write --out {path}: permission denied")


def aws_credentials() -> None:
    """The deployed-table commands need AWS credentials; say so instead of failing mid-call."""
    import boto3

    if boto3.Session().get_credentials() is None:
        raise ConfigurationError("no AWS credentials found; run `aws configure` or `aws sso login`, or set "
                                 "AWS_PROFILE, then retry")
