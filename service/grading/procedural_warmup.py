"""Preloaded into the worker pool's fork server when `reasoning_gym` is served: importing
reasoning-gym (~1.5 s) and building every dataset's scorer instance (~1 s) happen once there, and
every worker forked from it starts warm instead of paying both on its first items."""

import contextlib

from service.grading.procedural import dataset_instance, dataset_names

for _name in dataset_names():
    with contextlib.suppress(Exception):  # one that needs a config (composite) is built on first use
        dataset_instance(_name, "{}")
