"""Settings of the deploy commands (sea.settings dataclasses): torch-free, so the `sea` parser
is built from them without importing torch or LiteRT; `deploy.exporter.export_bundle` takes
them too."""
