"""Documentation generators, run as modules: `python -m docs.gen_pages`."""
