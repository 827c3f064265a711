"""Settings of the data-preparation commands (sea.settings dataclasses): light, so the `sea`
parser is built from them without importing the decoders; `data_prep.prepare.prepare` and
the source planners take them too."""
