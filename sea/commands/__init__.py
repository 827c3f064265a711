"""`sea` subcommands that need only the core (no torch)."""
