"""The speed patches reach into one moto release's private code: on any other release the
embedded backend runs on plain moto, after one warning."""

from __future__ import annotations

import logging

import pytest
from moto.cloudwatch.models import CloudWatchBackend
from moto.dynamodb.models.table import Table

from sre_copilot.local.moto_patches import SPEEDUPS_MOTO_VERSION, moto_speedups


def test_the_pinned_release_gets_the_speed_patches_and_loses_them_on_exit() -> None:
    # Given moto's own Query and GetMetricData
    query, metric_data = Table.query, CloudWatchBackend.get_metric_data
    # When the speed patches are entered on the release they were written for
    with moto_speedups(SPEEDUPS_MOTO_VERSION) as applied:
        # Then they are in place
        assert applied
        assert Table.query is not query and CloudWatchBackend.get_metric_data is not metric_data
    # And on exit moto's own code is back
    assert Table.query is query and CloudWatchBackend.get_metric_data is metric_data


def test_another_release_runs_plain_moto_after_one_warning(caplog: pytest.LogCaptureFixture) -> None:
    # Given a moto release the patches were not written for
    query = Table.query
    caplog.set_level(logging.WARNING, logger="sre_copilot.local.moto_patches")
    # When the speed patches are entered twice
    for _ in range(2):
        with moto_speedups("99.0.0") as applied:
            # Then nothing of moto is replaced
            assert not applied
            assert Table.query is query
    # And the operator is told once, with the release to install
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "moto 99.0.0" in warnings[0] and f"moto=={SPEEDUPS_MOTO_VERSION}" in warnings[0]
