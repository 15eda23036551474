"""The self-supervised family: the momentum base, its methods (each declared in its own module),
the supervised baseline, and the trainer that runs them on the engine's loop."""
