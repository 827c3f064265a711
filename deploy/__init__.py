"""Stage 3: TFLite export, quantization, parity, benchmarks and the sensor-node runtime."""
