/* See sea_logmel.h. Steps per frame (as sea/frontend.py): slice with the bundle's zero padding,
 * periodic Hann window, arm_rfft_fast_f32, power spectrum, sparse mel matrix (kapre014: mel of
 * the power, then sqrt; kapre03: mel of the magnitude), 10 log10(max(x, amin)); then the whole
 * image is shifted so its maximum is 0 dB and floored at -dynamic range. */
#include "sea_logmel.h"

#include <math.h>

int sea_logmel_init(arm_rfft_fast_instance_f32 *fft) {
    return (int)arm_rfft_fast_init_f32(fft, SEA_N_FFT);
}

static void frame_power(arm_rfft_fast_instance_f32 *fft, const float *audio, int frame,
                        float *work) {
    float *buffer = work, *spectrum = work + SEA_N_FFT, *power = work + 2 * SEA_N_FFT;
    int start = frame * SEA_HOP_LENGTH - SEA_PAD_LEFT;
    for (int i = 0; i < SEA_N_FFT; i++) {
        int t = start + i;
        float x = (t >= 0 && t < SEA_WINDOW_SAMPLES) ? audio[t] : 0.0f;
        buffer[i] = x * sea_window[i];
    }
    arm_rfft_fast_f32(fft, buffer, spectrum, 0);  /* the buffer is overwritten */
    /* CMSIS packs the real DC and Nyquist terms into spectrum[0] and spectrum[1]. */
    power[0] = spectrum[0] * spectrum[0];
    power[SEA_N_FFT / 2] = spectrum[1] * spectrum[1];
    arm_cmplx_mag_squared_f32(spectrum + 2, power + 1, SEA_N_FFT / 2 - 1);
#if !SEA_SQRT_AFTER_MEL
    for (int k = 0; k <= SEA_N_FFT / 2; k++) power[k] = sqrtf(power[k]);  /* magnitude */
#endif
}

void sea_logmel(arm_rfft_fast_instance_f32 *fft, const float *audio, float *work, float *logmel) {
    const float *power = work + 2 * SEA_N_FFT;
    float peak = -INFINITY;
    for (int frame = 0; frame < SEA_N_FRAMES; frame++) {
        frame_power(fft, audio, frame, work);
        for (int band = 0; band < SEA_N_MELS; band++) {
            const float *weights = sea_mel_weights + sea_mel_offset[band];
            float sum = 0.0f;
            for (int k = 0; k < sea_mel_count[band]; k++)
                sum += power[sea_mel_first_bin[band] + k] * weights[k];
#if SEA_SQRT_AFTER_MEL
            sum = sqrtf(sum);
#endif
            float db = 10.0f * log10f(sum > SEA_AMIN ? sum : SEA_AMIN);
            logmel[band * SEA_N_FRAMES + frame] = db;
            if (db > peak) peak = db;
        }
    }
    for (int i = 0; i < SEA_LOGMEL_SIZE; i++) {
        float db = logmel[i] - peak;
        logmel[i] = db > -SEA_DYNAMIC_RANGE ? db : -SEA_DYNAMIC_RANGE;
    }
}

void sea_quantize(const float *logmel, float gain, float offset, int32_t zero_point,
                  int8_t *out) {
    for (int i = 0; i < SEA_LOGMEL_SIZE; i++) {
        long q = lrintf(logmel[i] * gain + offset) + zero_point;
        out[i] = (int8_t)(q < -128 ? -128 : (q > 127 ? 127 : q));
    }
}
