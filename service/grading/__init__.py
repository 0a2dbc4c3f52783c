"""Pure domain logic the rewards call (math equivalence, ...): plain Python, no FastAPI, no server."""
