"""One module per command; each exposes `run(env, args) -> Result` and never prints."""
