"""`sea` subcommands of the training stage."""
