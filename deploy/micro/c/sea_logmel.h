/* Log-mel frontend of a sea bundle for Cortex-M: the numpy frontend (sea/frontend.py) in C99
 * on CMSIS-DSP's real FFT. The parameters (window, mel matrix, sizes, dB rule) come from the
 * header `sea export --target micro` generates for the bundle (sea_frontend_params.h).
 *
 *   arm_rfft_fast_instance_f32 fft;
 *   sea_logmel_init(&fft);
 *   sea_logmel(&fft, audio, work, logmel);          // audio: SEA_WINDOW_SAMPLES floats
 *   sea_quantize(logmel, kSeaInputGain, kSeaInputOffset, kSeaInputZeroPoint, input_int8);
 */
#ifndef SEA_LOGMEL_H
#define SEA_LOGMEL_H

#include <stdint.h>

#include "arm_math.h"
#include "sea_frontend_params.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Scratch floats sea_logmel needs: one frame, its spectrum and its power spectrum. */
#define SEA_WORK_FLOATS (2 * SEA_N_FFT + SEA_N_FFT / 2 + 1)
#define SEA_LOGMEL_SIZE (SEA_N_MELS * SEA_N_FRAMES)

/* 0 on success, else the arm_status of the FFT initialisation. */
int sea_logmel_init(arm_rfft_fast_instance_f32 *fft);

/* One window -> log-mel image, row-major [mel band][frame], in dB relative to the window's
 * maximum and floored at -SEA_DYNAMIC_RANGE (the kapre rule). */
void sea_logmel(arm_rfft_fast_instance_f32 *fft, const float *audio, float *work, float *logmel);

/* Float image -> the int8 model input (constants from model_data.h):
 * round(x * gain + offset) + zero_point, saturated. */
void sea_quantize(const float *logmel, float gain, float offset, int32_t zero_point,
                  int8_t *out);

#ifdef __cplusplus
}
#endif

#endif
