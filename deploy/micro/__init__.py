"""Microcontroller target: a fully integer int8 model as C source for TensorFlow Lite Micro,
its op resolver and measured arena, the flash/RAM budget against named boards, and the
log-mel frontend in C on CMSIS-DSP (`deploy/micro/c`, parameters from `frontend_header`)."""
