"""streamsvc: paid, tiered livestreams of hybrid performances."""

__version__ = "0.1.0"
