"""Domain events after commit: a message bus, and an outbox for the ones that must
not be lost (written in the same transaction, applied again until they succeed)."""
