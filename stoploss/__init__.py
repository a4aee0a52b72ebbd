"""Stop-loss pricing: severity and frequency models, compound loss distributions, premiums."""
