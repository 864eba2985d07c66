"""Paying the parties: payout details, payout runs and batches, four eyes, SEPA files,
payout advices."""
