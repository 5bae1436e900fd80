"""The deterministic estate generator: `estate.generate(seed, size)`."""
