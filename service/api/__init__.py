"""The HTTP layer: the app factory, routers, the wire schemas, errors, body limit, dependencies, metrics."""
