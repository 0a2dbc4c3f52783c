"""Judging code submissions: test data as datasets ship it (`datasets`), the programs that run in the
sandbox (`programs`), comparing outputs and return values (`compare`), and the judge that runs a
suite (`judge`). Plain Python over `sandboxes`: usable without the server."""
