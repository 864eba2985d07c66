"""Recordings and the archive: recorded concerts a venue publishes with their licence,
rights holders, offers and split rule (issue 18). See models.py for the media layout."""
