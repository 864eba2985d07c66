"""Staff: the people who work for venues, their memberships, sessions and two factors."""
