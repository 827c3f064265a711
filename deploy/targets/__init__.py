"""Runs of the node runtime on other targets (emulated aarch64: aarch64.sh) and their parity
with this machine's run."""
