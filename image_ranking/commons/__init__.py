"""Everything that talks to Wikimedia: the HTTP client and its allow-list, the request budget,
search plans, answers' schema; ``clients.py`` builds the one client."""
