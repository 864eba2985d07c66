"""Co-productions: a lead venue shares an event (and its box office) with other venues."""
