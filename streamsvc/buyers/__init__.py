"""Buyers' personal data: erasure on request (GDPR art. 17) and retention."""
