"""Season passes: one purchase, many events; its money deferred, then recognised per event."""
