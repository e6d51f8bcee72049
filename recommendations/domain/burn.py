"""The multiwindow multi-burn-rate alert table (Google SRE workbook,
"Alerting on SLOs"), pure Python: the exported alert rules
(`recommendations.exporters`, `slos.exporters`) and the scoring of SLOs of
record (`slos.domain.budget`) read the same windows and thresholds, so a
score fires exactly when the exported rule would.
"""

from __future__ import annotations

from dataclasses import dataclass

PAGE = "page"
TICKET = "ticket"
WINDOW_HOURS: dict[str, float] = {"5m": 5 / 60, "30m": 0.5, "1h": 1, "2h": 2, "6h": 6, "1d": 24, "3d": 72}


@dataclass(frozen=True)
class BurnRateWindow:
    """A multiwindow condition: both windows burn faster than the threshold,
    which spends `budget_share` of the budget within the long window."""

    long: str
    short: str
    budget_share: float
    severity: str

    def threshold(self, window_days: int) -> float:
        """Budget share x SLO period / long window, to 3 decimals as the
        alert rules write it (28 d: 13.44, 5.6, 2.8, 0.933)."""
        return round(self.budget_share * window_days * 24 / WINDOW_HOURS[self.long], 3)

    @property
    def name(self) -> str:
        return f"{self.severity}_{self.long}_{self.short}"


BURN_RATE_WINDOWS: tuple[BurnRateWindow, ...] = (
    BurnRateWindow("1h", "5m", 0.02, PAGE),
    BurnRateWindow("6h", "30m", 0.05, PAGE),
    BurnRateWindow("1d", "2h", 0.10, TICKET),
    BurnRateWindow("3d", "6h", 0.10, TICKET),
)
# Every window an alert reads, shortest first (the recording rules' windows).
ALERT_WINDOWS: tuple[str, ...] = tuple(sorted({w for c in BURN_RATE_WINDOWS for w in (c.long, c.short)},
                                              key=WINDOW_HOURS.__getitem__))
