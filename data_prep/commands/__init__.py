"""`sea` subcommands of the data_prep stage."""
