"""One router per resource: artists, works, checks, admin, and the portal's pages."""
