"""rm_models package."""
