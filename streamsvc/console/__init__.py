"""The venue console's own pages: the overview, cancelling an event, the venue's
settings; the event editor lives with the catalogue (catalog/console_pages.py)."""
