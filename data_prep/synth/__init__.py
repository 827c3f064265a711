"""Offline procedural urban soundscapes with event annotations (the `synth:` source)."""
