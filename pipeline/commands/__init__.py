"""`sea` subcommands that orchestrate several stages."""
