"""Door check-in: seat tickets of hybrid events admitted once, at the door."""
