"""Operations: health, readiness, metrics and the worker heartbeat."""
