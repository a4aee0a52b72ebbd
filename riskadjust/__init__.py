"""Risk-adjusted capitation: risk models, scoring, calibration, budgets and contract settlement."""
