"""`sea` subcommands of the deploy stage."""
