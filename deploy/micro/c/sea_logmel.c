/* See sea_logmel.h. Steps per frame (as sea/frontend.py): slice with the bundle's zero padding,
 * periodic Hann window, CMSIS-DSP's real FFT, power spectrum, sparse mel matrix (kapre014: mel
 * of the power, then sqrt; kapre03: mel of the magnitude), 10 log10(max(x, amin)); then the
 * whole image is shifted so its maximum is 0 dB and floored at -dynamic range. Every step runs
 * in sea_real (float, or double with SEA_FRONTEND_F64); the mel weights stay float32 (their
 * rounding moves a band by under 1e-6 dB). */
#include "sea_logmel.h"

#include <math.h>

#if SEA_FRONTEND_F64
#define SEA_PRECISION _f64
#define SEA_RFFT arm_rfft_fast_f64
#define SEA_MAG_SQUARED arm_cmplx_mag_squared_f64
#define SEA_SQRT sqrt
#define SEA_LOG10 log10
#else
#define SEA_PRECISION _f32
#define SEA_RFFT arm_rfft_fast_f32
#define SEA_MAG_SQUARED arm_cmplx_mag_squared_f32
#define SEA_SQRT sqrtf
#define SEA_LOG10 log10f
#endif

/* The size-specific init (arm_rfft_fast_init_1024_f32 for n_fft 1024): the generic one
 * links the twiddle tables of every FFT size: 69 KiB more flash on a Cortex-M4
 * (benchmarks/micro_frontend_size.py). */
#define SEA_CAT(a, b, c) a##b##c
#define SEA_INIT_NAME(n, precision) SEA_CAT(arm_rfft_fast_init_, n, precision)

int sea_logmel_init(sea_rfft_instance *fft) {
    return (int)SEA_INIT_NAME(SEA_N_FFT, SEA_PRECISION)(fft);
}

static void frame_power(sea_rfft_instance *fft, const float *audio, int frame, sea_real *work) {
    sea_real *buffer = work, *spectrum = work + SEA_N_FFT, *power = work + 2 * SEA_N_FFT;
    int start = frame * SEA_HOP_LENGTH - SEA_PAD_LEFT;
    for (int i = 0; i < SEA_N_FFT; i++) {
        int t = start + i;
        sea_real x = (t >= 0 && t < SEA_WINDOW_SAMPLES) ? (sea_real)audio[t] : 0;
        buffer[i] = x * sea_window[i];
    }
    SEA_RFFT(fft, buffer, spectrum, 0);  /* the buffer is overwritten */
    /* CMSIS packs the real DC and Nyquist terms into spectrum[0] and spectrum[1]. */
    power[0] = spectrum[0] * spectrum[0];
    power[SEA_N_FFT / 2] = spectrum[1] * spectrum[1];
    SEA_MAG_SQUARED(spectrum + 2, power + 1, SEA_N_FFT / 2 - 1);
#if !SEA_SQRT_AFTER_MEL
    for (int k = 0; k <= SEA_N_FFT / 2; k++) power[k] = SEA_SQRT(power[k]);  /* magnitude */
#endif
}

void sea_logmel(sea_rfft_instance *fft, const float *audio, sea_real *work, float *logmel) {
    const sea_real *power = work + 2 * SEA_N_FFT;
    float peak = -INFINITY;
    for (int frame = 0; frame < SEA_N_FRAMES; frame++) {
        frame_power(fft, audio, frame, work);
        for (int band = 0; band < SEA_N_MELS; band++) {
            const float *weights = sea_mel_weights + sea_mel_offset[band];
            sea_real sum = 0;
            for (int k = 0; k < sea_mel_count[band]; k++)
                sum += power[sea_mel_first_bin[band] + k] * weights[k];
#if SEA_SQRT_AFTER_MEL
            sum = SEA_SQRT(sum);
#endif
            float db = (float)(10 * SEA_LOG10(sum > SEA_AMIN ? sum : SEA_AMIN));
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
