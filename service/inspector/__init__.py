"""The reward inspector: record scored batches in a database (`store`, `recorder`) and look at them in
the browser (`/ui`, `service/api/routers/inspector.py`). Plain SQLAlchemy; works without the server
(`referee inspect FILE.scored.jsonl` loads a file into a throw-away SQLite store)."""
