/* Log-mel frontend of a sea bundle for Cortex-M: the numpy frontend (sea/frontend.py) in C99
 * on CMSIS-DSP's real FFT. The parameters (window, mel matrix, sizes, dB rule, precision) come
 * from the header `sea export --target micro` generates for the bundle (sea_frontend_params.h).
 *
 *   sea_rfft_instance fft;
 *   static sea_real work[SEA_WORK_LEN];
 *   sea_logmel_init(&fft);
 *   sea_logmel(&fft, audio, work, logmel);          // audio: SEA_WINDOW_SAMPLES floats
 *   sea_quantize(logmel, kSeaInputGain, kSeaInputOffset, kSeaInputZeroPoint, input_int8);
 *
 * Precision (SEA_FRONTEND_F64, default from the header, override with -D): 0 runs window, FFT
 * and dB in float32 (arm_rfft_fast_f32), within 0.01 dB of the numpy frontend above -60 dB on
 * noise and scenes, but float32 FFT round-off (about eps x the window's peak in every bin) costs
 * a pure tone in silence up to ~0.2 dB in its quietest bins above -60 dB. 1 runs them in float64
 * (arm_rfft_fast_f64): within 0.01 dB everywhere above -60 dB; meant for a Cortex-M7 with the
 * double-precision FPU (STM32H7); elsewhere double is software floating point (not timed).
 */
#ifndef SEA_LOGMEL_H
#define SEA_LOGMEL_H

#include <stdint.h>

#include "arm_math.h"
#include "sea_frontend_params.h"

#ifdef __cplusplus
extern "C" {
#endif

#if SEA_FRONTEND_F64
typedef arm_rfft_fast_instance_f64 sea_rfft_instance;
#else
typedef arm_rfft_fast_instance_f32 sea_rfft_instance;
#endif

/* Scratch sea_reals sea_logmel needs: one frame, its spectrum and its power spectrum. */
#define SEA_WORK_LEN (2 * SEA_N_FFT + SEA_N_FFT / 2 + 1)
#define SEA_LOGMEL_SIZE (SEA_N_MELS * SEA_N_FRAMES)

/* 0 on success, else the arm_status of the FFT initialisation. */
int sea_logmel_init(sea_rfft_instance *fft);

/* One window -> log-mel image, row-major [mel band][frame], in dB relative to the window's
 * maximum and floored at -SEA_DYNAMIC_RANGE (the kapre rule). */
void sea_logmel(sea_rfft_instance *fft, const float *audio, sea_real *work, float *logmel);

/* Float image -> the int8 model input (constants from model_data.h):
 * round(x * gain + offset) + zero_point, saturated. */
void sea_quantize(const float *logmel, float gain, float offset, int32_t zero_point,
                  int8_t *out);

#ifdef __cplusplus
}
#endif

#endif
