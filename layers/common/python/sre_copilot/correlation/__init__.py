"""Correlation: fold normalised signals into incidents, with an explanation for every grouping.

Pure code (no AWS, no clock): the correlate Lambda loads the engine state, feeds signals and saves it.
"""

from sre_copilot.correlation.config import CorrelationConfig, OpenRule
from sre_copilot.correlation.engine import CorrelationEngine, CorrelationOutcome
from sre_copilot.correlation.groups import IncidentGroup

__all__ = ["CorrelationConfig", "CorrelationEngine", "CorrelationOutcome", "IncidentGroup", "OpenRule"]
