"""Premium loadings: risk margin by standard deviation or by TVaR cost of capital, and expenses.

    risk margin  = k * SD[payout] + coc * (TVaR_q[payout] - E[payout])
    gross premium = (E[payout] + risk margin) / (1 - expense share)
"""

from __future__ import annotations

from dataclasses import dataclass

from stoploss.errors import StopLossError


@dataclass(frozen=True)
class Loadings:
    """Loading parameters.

    Attributes
    ----------
    expense_pct : float
        Expenses and profit as a share of gross premium (0.10 = 10%).
    sd_multiple : float
        k in the standard-deviation risk margin.
    coc_rate : float
        Cost of capital rate applied to TVaR_q minus the mean.
    tvar_level : float
        q for the TVaR (0.99 = 1-in-100).
    """

    expense_pct: float = 0.0
    sd_multiple: float = 0.0
    coc_rate: float = 0.0
    tvar_level: float = 0.99

    def __post_init__(self):
        if not 0 <= self.expense_pct < 1:
            raise StopLossError(f"Loadings: expense_pct must be in [0, 1), got {self.expense_pct!r}.")
        if self.sd_multiple < 0 or self.coc_rate < 0:
            raise StopLossError("Loadings: sd_multiple and coc_rate must be >= 0.")
        if not 0 < self.tvar_level < 1:
            raise StopLossError(f"Loadings: tvar_level must be in (0, 1), got {self.tvar_level!r}.")

    def risk_margin(self, sd: float, tvar: float, mean: float) -> float:
        """k * sd + coc * (tvar - mean), in currency."""
        return self.sd_multiple * sd + self.coc_rate * max(tvar - mean, 0.0)

    def gross(self, mean: float, sd: float, tvar: float) -> float:
        """(mean + risk margin) / (1 - expense share), in currency.

        Examples
        --------
        >>> Loadings(expense_pct=0.2, sd_multiple=0.1).gross(mean=800.0, sd=1000.0, tvar=0.0)
        1125.0
        """
        return (mean + self.risk_margin(sd, tvar, mean)) / (1.0 - self.expense_pct)
