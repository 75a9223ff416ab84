"""Powertools Logger/Tracer/Metrics shared by every function (one instance each per process)."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger(service="sre-copilot")
tracer = Tracer(service="sre-copilot")
metrics = Metrics(namespace="SreCopilot", service="sre-copilot")
