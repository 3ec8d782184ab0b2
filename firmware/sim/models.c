/* C models of the cores (see models.h): bit for bit with aci/cores/bnn.py and
 * aci/cores/test_core.py.
 *
 * Bits tensors (docs/bnn.md): element k is bit k % 64 of little-endian word k / 64,
 * so bit k % 8 of byte k / 8; bit 1 means -1. A product of two +-1 values is -1
 * exactly where their bits differ, so a sum of n products is n - 2 * popcount(a
 * XOR b): the binary layers are XOR and popcount over 64 channels at a time.
 *
 * BIN_CONV lays its input out as one 64-bit word per (channel word, padded
 * pixel), with a ring of zero words around the map, and its weights as one word
 * per (output, tap, channel word); the inner loop then runs over contiguous
 * pixels, XOR with one weight word and popcount, which compilers vectorise
 * (AVX-512 VPOPCNTQ where the host has it). A zero padding word "differs" from
 * the weight wherever the weight bit is 1, so those counts are taken out again at
 * the border, where docs/bnn.md says a padded position contributes 0. Weights are
 * repacked once per distinct weight tensor (compared byte for byte) and cached.
 */
#include <stdlib.h>
#include <string.h>

#include "models.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the simulator reads board memory as little-endian words"
#endif

enum { FP_CONV = 1, BIN_CONV = 2, BIN_FC = 3, TEST = 200 };

#define FP_CHANNELS 3
#define FP_SIZE     32
#define FP_PAD      (FP_SIZE + 2)

/* ---- sizes, saturating (parameters are any u32; port lengths are u32) ------- */

static uint64_t smul(uint64_t a, uint64_t b)
{
    uint64_t r;
    return __builtin_mul_overflow(a, b, &r) ? UINT64_MAX : r;
}

/* Bytes of a bits tensor of `count` elements: whole 64-bit words. */
static uint64_t bits_bytes(uint64_t count)
{
    return smul(count / 64 + (count % 64 != 0), 8);
}

static int bnn_lengths(unsigned id, const uint32_t *p, uint64_t len[4])
{
    if (id == FP_CONV) {
        uint64_t n_out = p[0];
        if (n_out < 1)
            return 0;
        len[0] = FP_CHANNELS * FP_SIZE * FP_SIZE;
        len[1] = bits_bytes(n_out * FP_CHANNELS * 9);
        len[2] = 2 * n_out;
        len[3] = bits_bytes(n_out * FP_SIZE * FP_SIZE);
        return 1;
    }
    if (id == BIN_CONV) {
        uint64_t n_in = p[0], n_out = p[1], size = p[2], pool = p[3];
        if (n_in < 1 || n_out < 1 || size < 1 || pool > 1 || (pool && size % 2))
            return 0;
        uint64_t side = pool ? size / 2 : size;
        len[0] = bits_bytes(smul(n_in, size * size));
        len[1] = bits_bytes(smul(smul(n_out, n_in), 9));
        len[2] = 2 * n_out;
        len[3] = bits_bytes(smul(n_out, side * side));
        return 1;
    }
    uint64_t n_in = p[0], n_out = p[1], last = p[2];
    if (n_in < 1 || n_out < 1 || last > 1)
        return 0;
    len[0] = bits_bytes(n_in);
    len[1] = bits_bytes(smul(n_out, n_in));
    len[2] = 2 * n_out * (last ? 2 : 1);
    len[3] = last ? 4 * n_out : bits_bytes(n_out);
    return 1;
}

int model_known(unsigned core_id)
{
    return core_id == TEST || (core_id >= FP_CONV && core_id <= BIN_FC);
}

int model_check(unsigned core_id, unsigned port_count, unsigned port_dirs, unsigned param_words,
                const uint32_t *words, const uint32_t *lengths)
{
    if (core_id == TEST)
        return port_count == 2 && port_dirs == 2 && param_words == 2 && words[0] >= 1 &&
               lengths[0] == words[0] && lengths[1] == words[0];
    static const unsigned params[4] = {0, 1, 4, 3};
    if (core_id < FP_CONV || core_id > BIN_FC || port_count != 4 || port_dirs != 8 ||
        param_words != params[core_id])
        return 0;
    uint64_t len[4];
    if (!bnn_lengths(core_id, words, len))
        return 0;
    for (unsigned k = 0; k < 4; k++)
        if (len[k] != lengths[k])
            return 0;
    return 1;
}

/* ---- helpers ---------------------------------------------------------------- */

static inline unsigned bit_at(const uint8_t *p, uint64_t k)
{
    return p[k >> 3] >> (k & 7) & 1;
}
static inline void set_bit(uint8_t *p, uint64_t k)
{
    p[k >> 3] |= (uint8_t)(1u << (k & 7));
}
static inline uint64_t word_at(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}
/* 64 bits of a bits tensor from element k on (fewer at its end: zeros). */
static inline uint64_t word_at_bits(const uint8_t *p, uint64_t k, uint64_t bytes)
{
    uint64_t byte = k / 8, v = 0;
    memcpy(&v, p + byte, bytes - byte < 8 ? bytes - byte : 8);
    return v >> (k % 8);
}
static inline int16_t i16_at(const uint8_t *p)
{
    return (int16_t)(uint16_t)(p[0] | p[1] << 8);
}

static void *xalloc(size_t n)
{
    void *p = calloc(n ? n : 1, 1);
    if (!p)
        abort(); /* the board backs these ports: their sizes are already in memory */
    return p;
}

/* Scratch buffers that grow as needed and are kept between tasks. */
static void *grow(void **buf, size_t *cap, size_t n)
{
    if (n > *cap) {
        free(*buf);
        *buf = xalloc(n);
        *cap = n;
    }
    return *buf;
}

/* ---- prepared (repacked) weights, cached by content ---------------------------- */

typedef struct {
    uint8_t *raw; /* the weight bytes they were made from */
    size_t raw_len;
    unsigned kind;
    uint64_t n_in, n_out;
    uint64_t *words;
    uint32_t *popcounts;
    uint64_t used;
} prepared;

#define CACHE 16
static prepared cache[CACHE];
static uint64_t clock_;

static prepared *lookup(unsigned kind, uint64_t n_in, uint64_t n_out, const uint8_t *w, size_t len)
{
    prepared *victim = &cache[0];
    for (unsigned k = 0; k < CACHE; k++) {
        prepared *c = &cache[k];
        if (c->raw && c->kind == kind && c->n_in == n_in && c->n_out == n_out &&
            c->raw_len == len && !memcmp(c->raw, w, len)) {
            c->used = ++clock_;
            return c;
        }
        if (c->used < victim->used)
            victim = c;
    }
    free(victim->raw);
    free(victim->words);
    free(victim->popcounts);
    memset(victim, 0, sizeof *victim);
    victim->raw = xalloc(len);
    memcpy(victim->raw, w, len);
    victim->raw_len = len;
    victim->kind = kind;
    victim->n_in = n_in;
    victim->n_out = n_out;
    victim->used = ++clock_;
    return victim;
}

void model_reset(void)
{
    for (unsigned k = 0; k < CACHE; k++) {
        free(cache[k].raw);
        free(cache[k].words);
        free(cache[k].popcounts);
        memset(&cache[k], 0, sizeof cache[k]);
    }
}

/* ---- TEST ---------------------------------------------------------------------- */

static void test_core(const uint32_t *p, unsigned slot, const uint8_t *a, uint8_t *y)
{
    uint32_t n = p[0], salt = p[1];
    for (uint32_t k = 0; k < n; k++) /* mod 256: the low byte of a sum that wraps mod 2^32 */
        y[k] = (uint8_t)(5u * a[k] + salt + 3u * slot + k);
}

/* ---- FP_CONV ---------------------------------------------------------------------- */

static void fp_conv(const uint32_t *p, uint8_t *const *port, uint8_t *y)
{
    uint32_t n_out = p[0];
    const int8_t *x = (const int8_t *)port[0];
    const uint8_t *w = port[1], *t = port[2];
    enum { SPAN = (FP_SIZE - 1) * FP_PAD + FP_SIZE }; /* output pixels, on padded rows */
    int16_t xp[FP_CHANNELS][FP_PAD * FP_PAD];
    int16_t acc[SPAN];
    memset(xp, 0, sizeof xp);
    for (int c = 0; c < FP_CHANNELS; c++)
        for (int r = 0; r < FP_SIZE; r++)
            for (int q = 0; q < FP_SIZE; q++)
                xp[c][(r + 1) * FP_PAD + q + 1] = x[(c * FP_SIZE + r) * FP_SIZE + q];
    for (uint32_t o = 0; o < n_out; o++) {
        memset(acc, 0, sizeof acc); /* |sum| <= 27 * 128: int16 is exact */
        for (int c = 0; c < FP_CHANNELS; c++)
            for (int tap = 0; tap < 9; tap++) {
                const int16_t *src = xp[c] + (tap / 3) * FP_PAD + tap % 3;
                if (bit_at(w, (uint64_t)o * 27 + (uint64_t)(c * 9 + tap))) /* c, tap >= 0 */
                    for (int i = 0; i < SPAN; i++)
                        acc[i] = (int16_t)(acc[i] - src[i]);
                else
                    for (int i = 0; i < SPAN; i++)
                        acc[i] = (int16_t)(acc[i] + src[i]);
            }
        int16_t thr = i16_at(t + 2 * o);
        uint8_t *out = y + (uint64_t)o * (FP_SIZE * FP_SIZE / 8);
        for (int r = 0; r < FP_SIZE; r++)
            for (int q = 0; q < FP_SIZE; q += 8) {
                unsigned byte = 0;
                for (int b = 0; b < 8; b++)
                    byte |= (unsigned)(acc[r * FP_PAD + q + b] < thr) << b;
                out[(r * FP_SIZE + q) / 8] = (uint8_t)byte;
            }
    }
}

/* ---- BIN_CONV ------------------------------------------------------------------- */

/* Weights as one word per (output, tap, channel word), and each (output, tap)'s
 * popcount for the border correction. */
static void conv_weights(prepared *pw, const uint8_t *w, uint64_t n_in, uint64_t n_out)
{
    uint64_t cw = (n_in + 63) / 64;
    pw->words = xalloc(n_out * 9 * cw * 8);
    pw->popcounts = xalloc(n_out * 9 * 4);
    for (uint64_t o = 0; o < n_out; o++)
        for (uint64_t i = 0; i < n_in; i++) {
            uint64_t base = (o * n_in + i) * 9;
            for (unsigned tap = 0; tap < 9; tap++)
                if (bit_at(w, base + tap))
                    pw->words[(o * 9 + tap) * cw + i / 64] |= 1ull << (i % 64);
        }
    for (uint64_t k = 0; k < n_out * 9; k++) {
        uint32_t n = 0;
        for (uint64_t j = 0; j < cw; j++)
            n += (uint32_t)__builtin_popcountll(pw->words[k * cw + j]);
        pw->popcounts[k] = n;
    }
}

#define BLOCK 32
static void *conv_x, *conv_acc, *conv_sums;
static size_t conv_x_cap, conv_acc_cap, conv_sums_cap;

static void bin_conv(const uint32_t *p, uint8_t *const *port, const uint32_t *lengths, uint8_t *y)
{
    uint64_t n_in = p[0], n_out = p[1], size = p[2], pool = p[3];
    uint64_t cw = (n_in + 63) / 64, P = size + 2, plane = P * P, span = (size - 1) * P + size;
    const uint8_t *x = port[0], *t = port[2];
    prepared *pw = lookup(BIN_CONV, n_in, n_out, port[1], lengths[1]);
    if (!pw->words)
        conv_weights(pw, port[1], n_in, n_out);
    /* Channel words per padded pixel, zero in the padding ring. */
    uint64_t *xw = grow(&conv_x, &conv_x_cap, cw * plane * 8);
    memset(xw, 0, cw * plane * 8);
    for (uint64_t i = 0; i < n_in; i++) {
        uint64_t *dst = xw + (i / 64) * plane + P + 1, base = i * size * size;
        unsigned b = i % 64;
        for (uint64_t r = 0; r < size; r++, dst += P) {
            if (size <= 56) { /* the row's bits in one word: the pixel loop vectorises */
                uint64_t at = base + r * size, row = word_at_bits(x, at, lengths[0]);
                for (uint64_t q = 0; q < size; q++)
                    dst[q] |= (row >> q & 1) << b;
            } else {
                for (uint64_t q = 0; q < size; q++)
                    dst[q] |= (uint64_t)bit_at(x, base + r * size + q) << b;
            }
        }
    }
    uint64_t *acc = grow(&conv_acc, &conv_acc_cap, span * 8);
    int64_t *sums = grow(&conv_sums, &conv_sums_cap, size * size * 8);
    uint64_t side = pool ? size / 2 : size;
    for (uint64_t o = 0; o < n_out; o++) {
        const uint64_t *wo = pw->words + o * 9 * cw;
        /* Blocks of pixels whose counts stay in registers over every tap and word. */
        for (uint64_t p0 = 0; p0 < span; p0 += BLOCK) {
            uint64_t a[BLOCK] = {0};
            if (span - p0 >= BLOCK) {
                for (unsigned tap = 0; tap < 9; tap++)
                    for (uint64_t j = 0; j < cw; j++) {
                        const uint64_t *src = xw + j * plane + (tap / 3) * P + tap % 3 + p0;
                        uint64_t wb = wo[tap * cw + j];
                        for (unsigned i = 0; i < BLOCK; i++)
                            a[i] += (uint64_t)__builtin_popcountll(src[i] ^ wb);
                    }
                memcpy(acc + p0, a, sizeof a);
            } else {
                for (unsigned tap = 0; tap < 9; tap++)
                    for (uint64_t j = 0; j < cw; j++) {
                        const uint64_t *src = xw + j * plane + (tap / 3) * P + tap % 3 + p0;
                        uint64_t wb = wo[tap * cw + j];
                        for (uint64_t i = 0; i < span - p0; i++)
                            a[i] += (uint64_t)__builtin_popcountll(src[i] ^ wb);
                    }
                memcpy(acc + p0, a, (span - p0) * 8);
            }
        }
        const uint32_t *pc = pw->popcounts + o * 9;
        for (uint64_t r = 0; r < size; r++)
            for (uint64_t q = 0; q < size; q++) {
                uint64_t differ = acc[r * P + q], inside = 9;
                if (r == 0 || q == 0 || r + 1 == size || q + 1 == size)
                    for (unsigned tap = 0; tap < 9; tap++) {
                        int64_t rr = (int64_t)r + tap / 3 - 1, qq = (int64_t)q + tap % 3 - 1;
                        if (rr < 0 || qq < 0 || rr >= (int64_t)size || qq >= (int64_t)size) {
                            differ -= pc[tap];
                            inside--;
                        }
                    }
                sums[r * size + q] = (int64_t)(n_in * inside) - 2 * (int64_t)differ;
            }
        int64_t thr = i16_at(t + 2 * o);
        uint64_t first = o * side * side;
        for (uint64_t r = 0; r < side; r++)
            for (uint64_t q = 0; q < side; q++) {
                int64_t s;
                if (pool) { /* max of the sums, then the threshold: the test is monotone */
                    const int64_t *a = sums + 2 * r * size + 2 * q;
                    s = a[0];
                    if (a[1] > s)
                        s = a[1];
                    if (a[size] > s)
                        s = a[size];
                    if (a[size + 1] > s)
                        s = a[size + 1];
                } else {
                    s = sums[r * size + q];
                }
                if (s < thr)
                    set_bit(y, first + r * side + q);
            }
    }
}

/* ---- BIN_FC ---------------------------------------------------------------------- */

/* Rows that do not start on a word (n_in % 64 != 0), moved onto whole words. */
static void fc_weights(prepared *pw, const uint8_t *w, uint64_t n_in, uint64_t n_out)
{
    uint64_t nw = (n_in + 63) / 64;
    pw->words = xalloc(n_out * nw * 8);
    for (uint64_t o = 0; o < n_out; o++)
        for (uint64_t i = 0; i < n_in; i++)
            if (bit_at(w, o * n_in + i))
                pw->words[o * nw + i / 64] |= 1ull << (i % 64);
}

static void *fc_x;
static size_t fc_x_cap;

static void bin_fc(const uint32_t *p, uint8_t *const *port, const uint32_t *lengths, uint8_t *y)
{
    uint64_t n_in = p[0], n_out = p[1], last = p[2], nw = (n_in + 63) / 64;
    const uint8_t *w = port[1], *t = port[2];
    uint64_t *x = grow(&fc_x, &fc_x_cap, nw * 8);
    memcpy(x, port[0], nw * 8);
    if (n_in % 64)
        x[nw - 1] &= (1ull << (n_in % 64)) - 1; /* unused input bits are ignored */
    const uint64_t *rows = 0;
    if (n_in % 64) {
        prepared *pw = lookup(BIN_FC, n_in, n_out, w, lengths[1]);
        if (!pw->words)
            fc_weights(pw, w, n_in, n_out);
        rows = pw->words;
    }
    for (uint64_t o = 0; o < n_out; o++) {
        uint64_t differ = 0;
        if (rows) {
            const uint64_t *row = rows + o * nw;
            for (uint64_t j = 0; j < nw; j++)
                differ += (uint64_t)__builtin_popcountll(x[j] ^ row[j]);
        } else {
            const uint8_t *row = w + o * nw * 8;
            for (uint64_t j = 0; j < nw; j++)
                differ += (uint64_t)__builtin_popcountll(x[j] ^ word_at(row + 8 * j));
        }
        int64_t sum = (int64_t)n_in - 2 * (int64_t)differ;
        if (last) {
            int64_t score = sum * i16_at(t + 4 * o) + i16_at(t + 4 * o + 2);
            uint32_t v = (uint32_t)score; /* wrapped to int32, little-endian */
            memcpy(y + 4 * o, &v, 4);
        } else if (sum < i16_at(t + 2 * o)) {
            set_bit(y, o);
        }
    }
}

/* ---- dispatch --------------------------------------------------------------------- */

void model_run(unsigned core_id, const uint32_t *words, unsigned slot, uint8_t *const *ports,
               const uint32_t *lengths)
{
    switch (core_id) {
    case TEST:
        test_core(words, slot, ports[0], ports[1]);
        break;
    case FP_CONV:
        fp_conv(words, ports, ports[3]);
        break;
    case BIN_CONV:
        bin_conv(words, ports, lengths, ports[3]);
        break;
    case BIN_FC:
        bin_fc(words, ports, lengths, ports[3]);
        break;
    default:
        break;
    }
}
