"""Viewing: ticket redemption, viewing tokens, device slots, revocation, authorization.

The only module that touches viewing keys in Redis (see keys.py).
"""
