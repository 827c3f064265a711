"""The sensor-node runtime: numpy + a TFLite interpreter only (no torch, librosa, TensorFlow)."""
