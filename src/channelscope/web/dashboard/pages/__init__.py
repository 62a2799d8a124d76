"""One module per dashboard page; each has ``render(ctx) -> component`` and, if it has controls, ``register``."""
