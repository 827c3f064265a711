"""Settings of the training commands (sea.settings dataclasses): torch-free, so the `sea`
parser is built from them without importing torch; the library entry points take them too."""
