"""`/me`: performers sign in with a mailed link and see their own money (issue 16)."""
