/* Stage: validate the bytes of an ACI image (docs/format.md, "Validation").
 *
 * In: the image bytes. Out: ACI_OK and an aci_image describing it, or the code of
 * the first broken rule and the byte offset of the offending field. The rules,
 * their codes, their offsets and the order they are checked in are those of
 * aci/decode.py; the functions below mirror its functions one for one
 * (decode_header -> check_header, ...), so the two read side by side.
 *
 * Every read goes through READ, which checks it against the end of its
 * container. COMPUTE is walked with an explicit stack whose depth the format
 * bounds (REPEAT > WINDOW > PARSEC > THREAD > LOOP x max_loop_depth), never by
 * recursion the image controls. Integers that Python keeps unbounded (port
 * corners after strides, operation counts) are computed in 128 bits or
 * saturated, so no input overflows into a wrong answer.
 */
#include "internal.h"

typedef struct {
    const uint8_t *data;
    uint64_t len;
    uint32_t *offset;
    const aci_hooks *hooks;
    aci_image *img;
    uint32_t sec_off[8], sec_len[8];
    uint32_t present;                             /* bit k: section kind k seen */
    uint32_t level_count[ACI_MAX_LOOP_DEPTH + 1]; /* counts of the enclosing counted levels */
    uint64_t operations;
    uint64_t work_units; /* what the executor's pre-decoding takes (internal.h) */
    /* SYMBOLS line records, for the check that each points at an instruction */
    uint32_t line_at, line_count;
    const uint32_t *line_order; /* line indices by offset; NULL: table order is sorted */
    int line_lookup;            /* neither: look each one up after the walk */
    uint32_t line_next;         /* merge position while walking COMPUTE */
    int stray;
} V;

#define NONE UINT32_MAX

static uint32_t fail(V *v, uint32_t code, uint64_t off)
{
    *v->offset = (uint32_t)off;
    return code;
}

/* p = the n bytes at off, which must lie before end (the container's end). */
#define READ(p, v, off, n, end)                                                                    \
    do {                                                                                           \
        if ((uint64_t)(off) + (n) > (uint64_t)(end) || (uint64_t)(end) > (v)->len)                 \
            return fail((v), ACI_ERR_INTERNAL, (off));                                             \
        (p) = (v)->data + (off);                                                                   \
    } while (0)

#define CHECK(expr)                                                                                \
    do {                                                                                           \
        uint32_t rc_ = (expr);                                                                     \
        if (rc_)                                                                                   \
            return rc_;                                                                            \
    } while (0)

/* ---- 128-bit two's complement, for port corners (|stride * count| < 2^88) ---- */

typedef struct {
    uint64_t lo, hi;
} wide;

static wide w_u64(uint64_t x)
{
    return (wide){x, 0};
}

static wide w_add(wide a, wide b)
{
    wide r;
    r.lo = a.lo + b.lo;
    r.hi = a.hi + b.hi + (r.lo < a.lo);
    return r;
}

/* s * c for a signed stride and an unsigned count. */
static wide w_mul(int64_t s, uint32_t c)
{
    uint64_t m = s < 0 ? (uint64_t)0 - (uint64_t)s : (uint64_t)s;
    uint64_t p0 = (m & 0xFFFFFFFFu) * c, p1 = (m >> 32) * c;
    wide r;
    r.lo = p0 + (p1 << 32);
    r.hi = (p1 >> 32) + (r.lo < p0);
    if (s < 0) {
        r.lo = ~r.lo + 1;
        r.hi = ~r.hi + (r.lo == 0);
    }
    return r;
}

/* Signed comparison: flipping the sign bit orders two's complement as unsigned. */
static int w_le(wide a, wide b)
{
    uint64_t ah = a.hi ^ (1ull << 63), bh = b.hi ^ (1ull << 63);
    return ah < bh || (ah == bh && a.lo <= b.lo);
}

/* decode.inside_memory: whether bytes lo .. hi-1 lie within one memory region. */
static int inside_memory(const aci_image *img, wide lo, wide hi)
{
    for (unsigned k = 0; k < img->memory_count; k++) {
        const aci_memory *m = &img->memories[k];
        if (w_le(w_u64(m->base), lo) && w_le(hi, w_add(w_u64(m->last), w_u64(1))))
            return 1;
    }
    return 0;
}

static int inside_span(const aci_image *img, uint64_t address, uint64_t size)
{
    return inside_memory(img, w_u64(address), w_add(w_u64(address), w_u64(size)));
}

/* decode._name: printable ASCII (0x21 .. 0x7E), at least one byte, NUL-padded. */
static int valid_name(const uint8_t *p, uint32_t size)
{
    uint32_t n = 0;
    while (n < size && p[n]) {
        if (p[n] < 0x21 || p[n] > 0x7E)
            return 0;
        n++;
    }
    if (n == 0)
        return 0;
    for (uint32_t k = n; k < size; k++)
        if (p[k])
            return 0;
    return 1;
}

static uint32_t name_len(const uint8_t *p, uint32_t size)
{
    uint32_t n = 0;
    while (n < size && p[n])
        n++;
    return n;
}

/* Well-formed UTF-8 as Python's strict decoder accepts it (Unicode table 3-7). */
static int valid_utf8(const uint8_t *s, uint32_t n)
{
    uint32_t i = 0;
    while (i < n) {
        uint32_t c = s[i], need;
        uint8_t lo = 0x80, hi = 0xBF;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF)
            need = 1;
        else if (c == 0xE0)
            need = 2, lo = 0xA0;
        else if (c == 0xED)
            need = 2, hi = 0x9F; /* no surrogates */
        else if (c >= 0xE1 && c <= 0xEF)
            need = 2;
        else if (c == 0xF0)
            need = 3, lo = 0x90;
        else if (c == 0xF4)
            need = 3, hi = 0x8F; /* nothing past U+10FFFF */
        else if (c >= 0xF1 && c <= 0xF3)
            need = 3;
        else
            return 0;
        if (n - i - 1 < need || s[i + 1] < lo || s[i + 1] > hi)
            return 0;
        for (uint32_t k = 2; k <= need; k++)
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
        i += need + 1;
    }
    return 1;
}

/* ---- repeated keys among records (buffer names, line offsets) ---------------- */

typedef int (*key_cmp)(const V *v, uint32_t a, uint32_t b); /* <0, 0, >0 by key only */

static int by_key_then_index(const V *v, key_cmp cmp, uint32_t a, uint32_t b)
{
    int c = cmp(v, a, b);
    return c ? c : (a > b) - (a < b);
}

static void sift_down(const V *v, key_cmp cmp, uint32_t *a, size_t root, size_t n)
{
    for (;;) {
        size_t child = 2 * root + 1;
        if (child >= n)
            return;
        if (child + 1 < n && by_key_then_index(v, cmp, a[child], a[child + 1]) < 0)
            child++;
        if (by_key_then_index(v, cmp, a[root], a[child]) >= 0)
            return;
        uint32_t t = a[root];
        a[root] = a[child];
        a[child] = t;
        root = child;
    }
}

/* Heapsort: O(n log n), in place, no recursion. */
static void sort_indices(const V *v, key_cmp cmp, uint32_t *a, size_t n)
{
    for (size_t k = 0; k < n; k++)
        a[k] = (uint32_t)k;
    for (size_t k = n / 2; k-- > 0;)
        sift_down(v, cmp, a, k, n);
    for (size_t end = n; end-- > 1;) {
        uint32_t t = a[0];
        a[0] = a[end];
        a[end] = t;
        sift_down(v, cmp, a, 0, end);
    }
}

/* The first record (in table order) whose key an earlier record has: Python's
 * `name in names` / `offset in lines` as it walks the records. NONE if there is
 * none. Leaves the sorted order in *order when it used the scratch area. */
static uint32_t first_repeat(const V *v, key_cmp cmp, uint32_t n, const uint32_t **order)
{
    const aci_hooks *h = v->hooks;
    *order = 0;
    if (n > ACI_CONFIG_PAIRWISE_LIMIT && h && h->scratch && h->scratch_words >= n) {
        sort_indices(v, cmp, h->scratch, n);
        uint32_t best = NONE;
        for (uint32_t k = 1; k < n; k++)
            if (!cmp(v, h->scratch[k - 1], h->scratch[k]) && h->scratch[k] < best)
                best = h->scratch[k]; /* sorted by index within a key: a later occurrence */
        *order = h->scratch;
        return best;
    }
    for (uint32_t i = 1; i < n; i++)
        for (uint32_t j = 0; j < i; j++)
            if (!cmp(v, j, i))
                return i;
    return NONE;
}

static int cmp_buffer_names(const V *v, uint32_t a, uint32_t b)
{
    const uint8_t *pa =
        v->data + v->sec_off[ACI_SECTION_SYMBOLS] + ACI_SYMBOLS_BYTES + a * ACI_BUFFER_BYTES;
    const uint8_t *pb =
        v->data + v->sec_off[ACI_SECTION_SYMBOLS] + ACI_SYMBOLS_BYTES + b * ACI_BUFFER_BYTES;
    for (uint32_t k = 0; k < 32; k++)
        if (pa[ACI_BUFFER_NAME + k] != pb[ACI_BUFFER_NAME + k])
            return pa[ACI_BUFFER_NAME + k] < pb[ACI_BUFFER_NAME + k] ? -1 : 1;
    return 0;
}

static uint32_t line_offset(const V *v, uint32_t k)
{
    return ld32(v->data + v->line_at + k * ACI_LINE_BYTES + ACI_LINE_OFFSET);
}

static int cmp_line_offsets(const V *v, uint32_t a, uint32_t b)
{
    uint32_t x = line_offset(v, a), y = line_offset(v, b);
    return (x > y) - (x < y);
}

/* ---- decode_header ------------------------------------------------------------ */

static uint32_t check_header(V *v)
{
    const uint8_t *h, *e;
    if (v->len < ACI_HEADER_BYTES)
        return fail(v, ACI_ERR_BAD_LENGTH, v->len);
    READ(h, v, 0, ACI_HEADER_BYTES, v->len);
    if (h[0] != 'A' || h[1] != 'C' || h[2] != 'I' || h[3] != 'X')
        return fail(v, ACI_ERR_BAD_MAGIC, ACI_HEADER_MAGIC);
    if (ld16(h + ACI_HEADER_MAJOR) != ACI_VERSION_MAJOR)
        return fail(v, ACI_ERR_BAD_VERSION, ACI_HEADER_MAJOR);
    if (ld32(h + ACI_HEADER_LENGTH) != v->len || v->len > ACI_MAX_IMAGE_BYTES)
        return fail(v, ACI_ERR_BAD_LENGTH, ACI_HEADER_LENGTH);
    if (aci_image_crc(v->data, (size_t)v->len) != ld32(h + ACI_HEADER_CRC32))
        return fail(v, ACI_ERR_BAD_CRC, ACI_HEADER_CRC32);
    if (ld32(h + ACI_HEADER_FLAGS) & ~1u)
        return fail(v, ACI_ERR_RESERVED_NONZERO, ACI_HEADER_FLAGS);
    if (ld16(h + ACI_HEADER_RESERVED))
        return fail(v, ACI_ERR_RESERVED_NONZERO, ACI_HEADER_RESERVED);
    uint32_t n = ld16(h + ACI_HEADER_SECTION_COUNT);
    uint64_t table_end = ACI_HEADER_BYTES + (uint64_t)n * ACI_SECTION_ENTRY_BYTES;
    if (n > ACI_MAX_SECTIONS || table_end > v->len)
        return fail(v, ACI_ERR_BAD_SECTION_TABLE, ACI_HEADER_SECTION_COUNT);
    uint64_t prev_end = table_end;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t at = ACI_HEADER_BYTES + i * ACI_SECTION_ENTRY_BYTES;
        READ(e, v, at, ACI_SECTION_ENTRY_BYTES, table_end);
        if (ld16(e + ACI_SECTION_ENTRY_RESERVED))
            return fail(v, ACI_ERR_RESERVED_NONZERO, at + ACI_SECTION_ENTRY_RESERVED);
        uint32_t kind = ld16(e + ACI_SECTION_ENTRY_KIND);
        if (kind < ACI_SECTION_TARGET || kind > ACI_SECTION_INIT)
            return fail(v, ACI_ERR_SECTION_UNKNOWN, at);
        if (v->present & 1u << kind)
            return fail(v, ACI_ERR_SECTION_DUPLICATE, at);
        v->present |= 1u << kind;
        uint32_t off = ld32(e + ACI_SECTION_ENTRY_OFFSET),
                 length = ld32(e + ACI_SECTION_ENTRY_LENGTH);
        if (off < table_end || (uint64_t)off + length > v->len)
            return fail(v, ACI_ERR_SECTION_BOUNDS, at + ACI_SECTION_ENTRY_OFFSET);
        if (off < prev_end)
            return fail(v, ACI_ERR_SECTION_OVERLAP, at + ACI_SECTION_ENTRY_OFFSET);
        prev_end = (uint64_t)off + length;
        v->sec_off[kind] = off;
        v->sec_len[kind] = length;
    }
    static const uint8_t required[] = {ACI_SECTION_TARGET, ACI_SECTION_CORES, ACI_SECTION_SYNC,
                                       ACI_SECTION_COMPUTE, ACI_SECTION_PARAM};
    for (unsigned k = 0; k < sizeof required; k++)
        if (!(v->present & 1u << required[k]))
            return fail(v, ACI_ERR_SECTION_MISSING, ACI_HEADER_SECTION_COUNT);
    v->img->flags = ld32(h + ACI_HEADER_FLAGS);
    return ACI_OK;
}

/* ---- decode_target ------------------------------------------------------------ */

static uint32_t check_target(V *v, uint32_t off, uint32_t length)
{
    const uint8_t *t, *m;
    aci_image *img = v->img;
    uint64_t end = (uint64_t)off + length;
    if (length < ACI_TARGET_BYTES)
        return fail(v, ACI_ERR_SECTION_SIZE, off);
    READ(t, v, off, ACI_TARGET_BYTES, end);
    if (ld16(t + ACI_TARGET_RESERVED))
        return fail(v, ACI_ERR_RESERVED_NONZERO, off + ACI_TARGET_RESERVED);
    if (ld32(t + ACI_TARGET_RESERVED2))
        return fail(v, ACI_ERR_RESERVED_NONZERO, off + ACI_TARGET_RESERVED2);
    uint32_t slots = t[ACI_TARGET_SLOTS], count = t[ACI_TARGET_MEMORY_COUNT];
    if (length != ACI_TARGET_BYTES + count * ACI_MEMORY_BYTES)
        return fail(v, ACI_ERR_SECTION_SIZE, off);
    if (slots < 1 || slots > ACI_MAX_SLOTS)
        return fail(v, ACI_ERR_BAD_TARGET, off + ACI_TARGET_SLOTS);
    if (count < 1 || count > ACI_MAX_MEMORIES)
        return fail(v, ACI_ERR_BAD_TARGET, off + ACI_TARGET_MEMORY_COUNT);
    /* The nine figures in field order: rates must be 1 .. ACI_MAX_RATE (so
     * products with 10^9 stay exact), durations at most ACI_MAX_TIME_NS. */
    uint64_t *fig[] = {
        &img->timing.icap_bytes_per_s, &img->timing.pr_overhead_ns,   &img->timing.dma_bytes_per_s,
        &img->timing.clock_hz,         &img->timing.task_overhead_ns, &img->timing.pf_write_ns,
        &img->timing.link_bits_per_s,  &img->timing.link_latency_ns,  &img->timing.watchdog_ns};
    static const uint8_t is_rate[] = {1, 0, 1, 1, 0, 0, 1, 0, 0};
    for (unsigned k = 0; k < 9; k++) {
        uint32_t fo = ACI_TARGET_ICAP_BYTES_PER_S + 8 * k;
        uint64_t x = ld64(t + fo);
        if (is_rate[k] ? x == 0 || x > ACI_MAX_RATE : x > ACI_MAX_TIME_NS)
            return fail(v, ACI_ERR_BAD_TARGET, off + fo);
        *fig[k] = x;
    }
    for (uint32_t i = 0; i < count; i++) {
        uint32_t at = off + ACI_TARGET_BYTES + i * ACI_MEMORY_BYTES;
        READ(m, v, at, ACI_MEMORY_BYTES, end);
        if (!valid_name(m + ACI_MEMORY_NAME, 16))
            return fail(v, ACI_ERR_BAD_TARGET, at);
        uint64_t base = ld64(m + ACI_MEMORY_BASE), size = ld64(m + ACI_MEMORY_SIZE);
        if (size == 0 || (base != 0 && size > (uint64_t)0 - base))
            return fail(v, ACI_ERR_BAD_TARGET, at + ACI_MEMORY_BASE);
        uint64_t last = base + (size - 1);
        for (uint32_t k = 0; k < i; k++) {
            const aci_memory *o = &img->memories[k];
            if (base <= o->last && o->base <= last)
                return fail(v, ACI_ERR_BAD_TARGET, at + ACI_MEMORY_BASE);
            unsigned same = 1;
            for (unsigned b = 0; b < 16; b++)
                same &= o->name[b] == m[ACI_MEMORY_NAME + b];
            if (same)
                return fail(v, ACI_ERR_BAD_TARGET, at);
        }
        img->memories[i].base = base;
        img->memories[i].last = last;
        img->memories[i].name = m + ACI_MEMORY_NAME;
        img->memory_count = (uint8_t)(i + 1);
    }
    img->slots = (uint8_t)slots;
    return ACI_OK;
}

/* ---- decode_cores ------------------------------------------------------------- */

static uint32_t check_cores(V *v, uint32_t off, uint32_t length)
{
    const uint8_t *h, *c;
    aci_image *img = v->img;
    uint64_t end = (uint64_t)off + length;
    if (length < ACI_CORES_BYTES)
        return fail(v, ACI_ERR_SECTION_SIZE, off);
    READ(h, v, off, ACI_CORES_BYTES, end);
    if (ld16(h + ACI_CORES_RESERVED))
        return fail(v, ACI_ERR_RESERVED_NONZERO, off + ACI_CORES_RESERVED);
    if (ld32(h + ACI_CORES_RESERVED2))
        return fail(v, ACI_ERR_RESERVED_NONZERO, off + ACI_CORES_RESERVED2);
    uint32_t count = ld16(h + ACI_CORES_COUNT);
    if (length != ACI_CORES_BYTES + count * ACI_CORE_BYTES)
        return fail(v, ACI_ERR_SECTION_SIZE, off);
    if (count < 1 || count > ACI_MAX_CORES)
        return fail(v, ACI_ERR_BAD_CORE, off + ACI_CORES_COUNT);
    for (uint32_t i = 0; i < count; i++) {
        uint32_t at = off + ACI_CORES_BYTES + i * ACI_CORE_BYTES;
        READ(c, v, at, ACI_CORE_BYTES, end);
        if (!valid_name(c + ACI_CORE_NAME, 16))
            return fail(v, ACI_ERR_BAD_CORE, at + ACI_CORE_NAME);
        uint32_t id = c[ACI_CORE_ID];
        if (img->core_index[id] != NO_CORE)
            return fail(v, ACI_ERR_BAD_CORE, at + ACI_CORE_ID);
        uint32_t ports = c[ACI_CORE_PORT_COUNT], words = c[ACI_CORE_PARAM_WORDS];
        if (ports < 1 || ports > ACI_MAX_PORTS || words > ACI_MAX_PARAMS)
            return fail(v, ACI_ERR_BAD_CORE, at + ACI_CORE_PORT_COUNT);
        if (c[ACI_CORE_PORT_DIRS] >> ports)
            return fail(v, ACI_ERR_BAD_CORE, at + ACI_CORE_PORT_DIRS);
        uint32_t size = ld32(c + ACI_CORE_BITSTREAM_SIZE);
        uint64_t address = ld64(c + ACI_CORE_BITSTREAM_ADDR);
        if (size == 0 || !inside_span(img, address, size))
            return fail(v, ACI_ERR_BAD_CORE, at + ACI_CORE_BITSTREAM_ADDR);
        uint64_t pr = aci_pr_ns(&img->timing, size);
        if (pr > ACI_MAX_TIME_NS)
            return fail(v, ACI_ERR_BAD_CORE, at + ACI_CORE_BITSTREAM_SIZE);
        aci_core *k = &img->cores[i];
        k->id = (uint8_t)id;
        k->port_count = (uint8_t)ports;
        k->param_words = (uint8_t)words;
        k->port_dirs = c[ACI_CORE_PORT_DIRS];
        k->name = c + ACI_CORE_NAME;
        k->name_len = (uint8_t)name_len(k->name, 16);
        k->bitstream_size = size;
        k->bitstream_addr = address;
        k->pr_ns = pr;
        img->core_index[id] = (uint8_t)i;
        img->core_count = (uint8_t)(i + 1);
    }
    return ACI_OK;
}

/* ---- decode_params -------------------------------------------------------------- */

static uint32_t check_params(V *v, uint32_t off, uint32_t length)
{
    if (length % 4)
        return fail(v, ACI_ERR_SECTION_SIZE, off);
    v->img->param_off = off;
    v->img->param_words = length / 4;
    return ACI_OK;
}

/* ---- decode_symbols ------------------------------------------------------------- */

static uint32_t check_symbols(V *v, uint32_t off, uint32_t length)
{
    const uint8_t *h, *b, *f, *l;
    const aci_image *img = v->img;
    uint64_t end = (uint64_t)off + length;
    if (length < ACI_SYMBOLS_BYTES)
        return fail(v, ACI_ERR_SECTION_SIZE, off);
    READ(h, v, off, ACI_SYMBOLS_BYTES, end);
    uint32_t buffers = ld16(h + ACI_SYMBOLS_BUFFER_COUNT), files = ld16(h + ACI_SYMBOLS_FILE_COUNT);
    uint32_t lines = ld32(h + ACI_SYMBOLS_LINE_COUNT);
    uint64_t need = ACI_SYMBOLS_BYTES + (uint64_t)buffers * ACI_BUFFER_BYTES +
                    (uint64_t)files * ACI_FILE_BYTES + (uint64_t)lines * ACI_LINE_BYTES;
    if (length != need)
        return fail(v, ACI_ERR_SECTION_SIZE, off);
    const uint32_t *order;
    uint32_t repeat = first_repeat(v, cmp_buffer_names, buffers, &order);
    uint32_t at = off + ACI_SYMBOLS_BYTES;
    for (uint32_t i = 0; i < buffers; i++, at += ACI_BUFFER_BYTES) {
        READ(b, v, at, ACI_BUFFER_BYTES, end);
        if (ld32(b + ACI_BUFFER_RESERVED))
            return fail(v, ACI_ERR_RESERVED_NONZERO, at + ACI_BUFFER_RESERVED);
        if (!valid_name(b + ACI_BUFFER_NAME, 32))
            return fail(v, ACI_ERR_BAD_SYMBOLS, at);
        uint32_t nd = b[ACI_BUFFER_NDIMS];
        int bad = i == repeat || b[ACI_BUFFER_ELEM] > ACI_ELEM_U64 ||
                  b[ACI_BUFFER_ROLE] > ACI_ROLE_OUTPUT || nd < 1 || nd > ACI_MAX_DIMS ||
                  b[ACI_BUFFER_MEMORY] >= img->memory_count;
        for (uint32_t d = 0; d < 8 && !bad; d++) {
            uint32_t dim = ld32(b + ACI_BUFFER_DIM0 + 4 * d);
            bad = d < nd ? dim == 0 : dim != 0;
        }
        if (bad || !inside_span(img, ld64(b + ACI_BUFFER_ADDRESS), ld64(b + ACI_BUFFER_SIZE)))
            return fail(v, ACI_ERR_BAD_SYMBOLS, at);
    }
    for (uint32_t i = 0; i < files; i++, at += ACI_FILE_BYTES) {
        READ(f, v, at, ACI_FILE_BYTES, end);
        uint32_t n = name_len(f + ACI_FILE_NAME, 128);
        if (!valid_utf8(f + ACI_FILE_NAME, n))
            return fail(v, ACI_ERR_BAD_SYMBOLS, at);
        for (uint32_t k = n; k < 128; k++)
            if (f[ACI_FILE_NAME + k])
                return fail(v, ACI_ERR_BAD_SYMBOLS, at);
    }
    v->line_at = at;
    v->line_count = lines;
    /* The encoder writes line records in instruction order: one pass proves there
     * are no repeats, and the same order merges with the walk of COMPUTE. */
    int sorted = 1;
    for (uint32_t k = 1; k < lines && sorted; k++)
        sorted = line_offset(v, k - 1) < line_offset(v, k);
    repeat = NONE;
    v->line_order = 0;
    if (!sorted) {
        repeat = first_repeat(v, cmp_line_offsets, lines, &order);
        v->line_order = order;
        v->line_lookup = order == 0;
    }
    for (uint32_t i = 0; i < lines; i++, at += ACI_LINE_BYTES) {
        READ(l, v, at, ACI_LINE_BYTES, end);
        if (ld16(l + ACI_LINE_RESERVED))
            return fail(v, ACI_ERR_RESERVED_NONZERO, at + ACI_LINE_RESERVED);
        if (ld16(l + ACI_LINE_FILE) >= files || i == repeat)
            return fail(v, ACI_ERR_BAD_SYMBOLS, at);
    }
    return ACI_OK;
}

/* Lines pointing at no instruction: merged with the walk (instruction starts come
 * in increasing order), each line offset visited once. */
static void visit_lines(V *v, uint32_t pos)
{
    if (v->line_lookup)
        return;
    while (v->line_next < v->line_count) {
        uint32_t k = v->line_order ? v->line_order[v->line_next] : v->line_next;
        uint32_t x = line_offset(v, k);
        if (x > pos)
            return;
        v->stray |= x < pos;
        v->line_next++;
    }
}

/* Whether x is where an instruction starts, descending the validated COMPUTE
 * (for unsorted line tables when no scratch area was given). */
static int is_instruction(const V *v, uint32_t x)
{
    uint32_t pos = v->img->compute_off, end = pos + v->img->compute_len;
    while (pos < end) {
        uint32_t op = v->data[pos], len = ld32(v->data + pos + ACI_INSN_HEADER_LENGTH);
        if (x == pos)
            return 1;
        if (x > pos && x - pos < len) {
            if (op == ACI_OP_TASK || op == ACI_OP_RECONF)
                return 0;
            end = pos + len;
            pos += ACI_INSN_HEADER_BYTES + insn_fields(op);
            continue;
        }
        pos += len;
    }
    return 0;
}

/* ---- _Compute ------------------------------------------------------------------ */

typedef struct {
    uint32_t off, end; /* the container instruction and the end of its body */
    uint32_t conflict; /* PARSEC: first thread sharing a slot with an earlier one, 0: none */
    uint64_t mult;     /* passes of the body per run: product of counts, saturated */
    uint16_t mask;     /* THREAD, LOOP: slots of the tasks inside */
    uint16_t ops_mask; /* slots of the operations inside (for the work area) */
    uint16_t used;     /* PARSEC: slots of its threads so far */
    uint8_t op;        /* 0: COMPUTE itself */
    uint8_t rank;      /* WINDOW: 1 once a PARSEC came */
    uint8_t levels;    /* counted levels (REPEAT, LOOPs) around the body */
    uint8_t depth;     /* LOOPs around the body */
} vframe;

static int allowed(uint32_t parent, uint32_t op)
{
    switch (parent) {
    case 0:
        return op == ACI_OP_REPEAT || op == ACI_OP_WINDOW;
    case ACI_OP_REPEAT:
        return op == ACI_OP_WINDOW;
    case ACI_OP_WINDOW:
        return op == ACI_OP_RECONF || op == ACI_OP_PARSEC;
    case ACI_OP_PARSEC:
        return op == ACI_OP_THREAD;
    default:
        return op == ACI_OP_LOOP || op == ACI_OP_TASK; /* THREAD, LOOP */
    }
}

static uint32_t count_ops(V *v, uint64_t mult, uint32_t pos)
{
    v->operations = sat_add(v->operations, mult);
    if (v->operations > ACI_MAX_OPERATIONS)
        return fail(v, ACI_ERR_BAD_COUNT, pos);
    return ACI_OK;
}

static uint32_t check_slot(V *v, uint32_t slot, uint32_t at)
{
    return slot >= v->img->slots ? fail(v, ACI_ERR_BAD_SLOT, at) : ACI_OK;
}

static uint32_t check_core(V *v, uint32_t id, uint32_t at)
{
    return v->img->core_index[id] == NO_CORE ? fail(v, ACI_ERR_UNKNOWN_CORE, at) : ACI_OK;
}

static uint32_t check_task(V *v, vframe *f, uint32_t pos, uint32_t fo, uint32_t end)
{
    const uint8_t *t, *p, *w;
    const aci_image *img = v->img;
    READ(t, v, fo, ACI_TASK_BYTES, end);
    uint32_t slot = t[ACI_TASK_SLOT];
    CHECK(check_slot(v, slot, fo + ACI_TASK_SLOT));
    CHECK(check_core(v, t[ACI_TASK_CORE], fo + ACI_TASK_CORE));
    const aci_core *core = &img->cores[img->core_index[t[ACI_TASK_CORE]]];
    uint32_t ports = t[ACI_TASK_PORT_COUNT], words = ld16(t + ACI_TASK_PARAM_WORDS);
    if (ports != core->port_count || words != core->param_words)
        return fail(v, ACI_ERR_BAD_PORTS, fo + ACI_TASK_PORT_COUNT);
    uint32_t strides = t[ACI_TASK_STRIDE_COUNT], waits = t[ACI_TASK_WAIT_COUNT];
    if (strides != f->levels)
        return fail(v, ACI_ERR_BAD_STRIDES, fo + ACI_TASK_STRIDE_COUNT);
    if (waits > ACI_MAX_WAITS)
        return fail(v, ACI_ERR_BAD_WAIT, fo + ACI_TASK_WAIT_COUNT);
    if ((uint64_t)ld32(t + ACI_TASK_PARAM_OFFSET) + words > img->param_words)
        return fail(v, ACI_ERR_BAD_PARAMS, fo + ACI_TASK_PARAM_OFFSET);
    uint32_t port_bytes = ACI_PORT_BYTES + 8 * strides;
    if (end - pos !=
        ACI_INSN_HEADER_BYTES + ACI_TASK_BYTES + ports * port_bytes + waits * ACI_WAIT_BYTES)
        return fail(v, ACI_ERR_BAD_INSN_LENGTH, pos + ACI_INSN_HEADER_LENGTH);
    uint32_t at = fo + ACI_TASK_BYTES;
    uint64_t in = 0, out = 0;
    for (uint32_t k = 0; k < ports; k++, at += port_bytes) {
        READ(p, v, at, port_bytes, end);
        if (ld32(p + ACI_PORT_RESERVED))
            return fail(v, ACI_ERR_RESERVED_NONZERO, at + ACI_PORT_RESERVED);
        uint64_t address = ld64(p + ACI_PORT_ADDRESS);
        uint32_t length = ld32(p + ACI_PORT_LENGTH);
        /* The corners of the iteration space: exact for affine addresses. */
        wide lo = w_u64(address), hi = w_u64(address);
        for (uint32_t j = 0; j < strides; j++) {
            int64_t s = (int64_t)ld64(p + ACI_PORT_BYTES + 8 * j);
            wide move = w_mul(s, v->level_count[j] - 1);
            if (s < 0)
                lo = w_add(lo, move);
            else
                hi = w_add(hi, move);
        }
        hi = w_add(hi, w_u64(length));
        if (length == 0 || !inside_memory(img, lo, hi))
            return fail(v, ACI_ERR_BAD_REGION, at);
        if (core->port_dirs >> k & 1)
            out += length;
        else
            in += length;
        if (v->hooks && v->hooks->port_span)
            v->hooks->port_span(v->hooks->user, lo.lo, hi.lo - 1);
    }
    for (uint32_t k = 0; k < waits; k++, at += ACI_WAIT_BYTES) {
        READ(w, v, at, ACI_WAIT_BYTES, end);
        if (w[ACI_WAIT_RESERVED])
            return fail(v, ACI_ERR_RESERVED_NONZERO, at + ACI_WAIT_RESERVED);
        if (ld16(w + ACI_WAIT_RESERVED2))
            return fail(v, ACI_ERR_RESERVED_NONZERO, at + ACI_WAIT_RESERVED2);
        if (w[ACI_WAIT_SLOT] >= img->slots || ld32(w + ACI_WAIT_LAG) > ACI_MAX_WAIT_LAG)
            return fail(v, ACI_ERR_BAD_WAIT, at);
    }
    if (aci_task_ns(&img->timing, words, ld32(t + ACI_TASK_CYCLES), in, out) > ACI_MAX_TIME_NS)
        return fail(v, ACI_ERR_BAD_CYCLES, fo + ACI_TASK_CYCLES);
    CHECK(count_ops(v, f->mult, pos));
    f->mask |= (uint16_t)(1u << slot);
    f->ops_mask |= (uint16_t)(1u << slot);
    v->work_units += WORK_OP_UNITS + ports * (1 + strides) + waits;
    return ACI_OK;
}

/* A container's body is done: the checks Python makes after reading its kids. */
static uint32_t close_container(V *v, vframe *f, vframe *parent)
{
    if (f->op == ACI_OP_PARSEC && f->conflict)
        return fail(v, ACI_ERR_PARSEC_SLOT_CONFLICT, f->conflict);
    if (f->op == ACI_OP_THREAD) {
        if (parent->used & f->mask && !parent->conflict)
            parent->conflict = f->off;
        parent->used |= f->mask;
    }
    if (f->op == ACI_OP_LOOP)
        parent->mask |= f->mask;
    /* The executor's chains: a loop record, and a begin and an end entry per slot. */
    if ((f->op == ACI_OP_LOOP || f->op == ACI_OP_REPEAT) && f->ops_mask) {
        v->work_units += WORK_LOOP_UNITS(v->img->slots);
        for (uint32_t m = f->ops_mask; m; m &= m - 1)
            v->work_units += 2;
    }
    parent->ops_mask |= f->ops_mask;
    return ACI_OK;
}

static uint32_t check_compute(V *v)
{
    const uint8_t *h, *fp;
    aci_image *img = v->img;
    vframe st[ACI_STACK_DEPTH];
    unsigned sp = 0;
    fill0(&st[0], sizeof st[0]);
    st[0].off = img->compute_off;
    st[0].end = img->compute_off + img->compute_len;
    st[0].mult = 1;
    uint32_t pos = st[0].off;
    for (;;) {
        vframe *f = &st[sp];
        if (pos >= f->end) {
            if (sp == 0)
                return ACI_OK;
            CHECK(close_container(v, f, &st[sp - 1]));
            pos = f->end;
            sp--;
            continue;
        }
        visit_lines(v, pos);
        if (f->end - pos < ACI_INSN_HEADER_BYTES)
            return fail(v, ACI_ERR_BAD_INSN_LENGTH, pos);
        READ(h, v, pos, ACI_INSN_HEADER_BYTES, f->end);
        uint32_t op = h[ACI_INSN_HEADER_OPCODE];
        if (op < 1 || op > 7)
            return fail(v, ACI_ERR_BAD_OPCODE, pos);
        if (h[ACI_INSN_HEADER_FLAGS] || ld16(h + ACI_INSN_HEADER_RESERVED))
            return fail(v, ACI_ERR_RESERVED_NONZERO, pos + ACI_INSN_HEADER_FLAGS);
        uint32_t len = ld32(h + ACI_INSN_HEADER_LENGTH), fsize = insn_fields(op);
        if (len < ACI_INSN_HEADER_BYTES + fsize || len > f->end - pos)
            return fail(v, ACI_ERR_BAD_INSN_LENGTH, pos + ACI_INSN_HEADER_LENGTH);
        if (!allowed(f->op, op))
            return fail(v, ACI_ERR_BAD_NESTING, pos);
        if (f->op == ACI_OP_WINDOW) {
            uint8_t rank = op == ACI_OP_PARSEC;
            if (rank < f->rank)
                return fail(v, ACI_ERR_BAD_NESTING, pos);
            f->rank = rank;
        }
        uint32_t fo = pos + ACI_INSN_HEADER_BYTES, end = pos + len;
        READ(fp, v, fo, fsize, end);
        if ((op == ACI_OP_REPEAT || op == ACI_OP_LOOP) && ld32(fp + ACI_LOOP_RESERVED))
            return fail(v, ACI_ERR_RESERVED_NONZERO, fo + ACI_LOOP_RESERVED);
        if (op == ACI_OP_RECONF && ld16(fp + ACI_RECONF_RESERVED))
            return fail(v, ACI_ERR_RESERVED_NONZERO, fo + ACI_RECONF_RESERVED);
        if (op == ACI_OP_RECONF && ld32(fp + ACI_RECONF_RESERVED2))
            return fail(v, ACI_ERR_RESERVED_NONZERO, fo + ACI_RECONF_RESERVED2);
        if (op == ACI_OP_TASK && fp[ACI_TASK_RESERVED])
            return fail(v, ACI_ERR_RESERVED_NONZERO, fo + ACI_TASK_RESERVED);
        if (op == ACI_OP_TASK) {
            CHECK(check_task(v, f, pos, fo, end));
            pos = end;
            continue;
        }
        if (op == ACI_OP_RECONF) {
            if (end != fo + fsize)
                return fail(v, ACI_ERR_BAD_INSN_LENGTH, pos + ACI_INSN_HEADER_LENGTH);
            CHECK(check_slot(v, fp[ACI_RECONF_SLOT], fo + ACI_RECONF_SLOT));
            CHECK(check_core(v, fp[ACI_RECONF_CORE], fo + ACI_RECONF_CORE));
            CHECK(count_ops(v, f->mult, pos));
            f->ops_mask |= (uint16_t)(1u << fp[ACI_RECONF_SLOT]);
            v->work_units += WORK_OP_UNITS;
            const aci_core *core = &img->cores[img->core_index[fp[ACI_RECONF_CORE]]];
            if (aci_pr_ns(&img->timing, core->bitstream_size) > ACI_MAX_TIME_NS)
                return fail(v, ACI_ERR_BAD_CYCLES, fo);
            pos = end;
            continue;
        }
        uint32_t count = 1;
        if (op == ACI_OP_LOOP || op == ACI_OP_REPEAT) {
            uint32_t limit = op == ACI_OP_LOOP ? ACI_MAX_LOOP_COUNT : ACI_MAX_REPEAT_COUNT;
            count = ld32(fp + ACI_LOOP_COUNT);
            if (count < 1 || count > limit)
                return fail(v, ACI_ERR_BAD_COUNT, fo + ACI_LOOP_COUNT);
            if (op == ACI_OP_LOOP && f->depth >= ACI_MAX_LOOP_DEPTH)
                return fail(v, ACI_ERR_TOO_DEEP, pos);
        }
        if (sp + 1 >= sizeof st / sizeof st[0])
            return fail(v, ACI_ERR_INTERNAL, pos); /* the nesting rules bound the depth */
        vframe *k = &st[++sp];
        fill0(k, sizeof *k);
        k->off = pos;
        k->end = end;
        k->op = (uint8_t)op;
        k->levels = f->levels;
        k->depth = f->depth;
        k->mult = f->mult;
        if (op == ACI_OP_LOOP || op == ACI_OP_REPEAT) {
            v->level_count[f->levels] = count;
            k->levels = f->levels + 1;
            if (op == ACI_OP_LOOP) /* f->depth < ACI_MAX_LOOP_DEPTH, checked above: fits */
                k->depth = (uint8_t)(f->depth + 1);
            k->mult = sat_mul(f->mult, count);
        }
        pos = fo + fsize;
    }
}

/* ---- decode_init ----------------------------------------------------------------- */

static uint32_t check_init(V *v, uint32_t off, uint32_t length)
{
    const uint8_t *h, *c;
    uint64_t end = (uint64_t)off + length, prev_end = 0;
    if (length < ACI_INIT_BYTES)
        return fail(v, ACI_ERR_SECTION_SIZE, off);
    READ(h, v, off, ACI_INIT_BYTES, end);
    if (ld32(h + ACI_INIT_RESERVED))
        return fail(v, ACI_ERR_RESERVED_NONZERO, off + ACI_INIT_RESERVED);
    uint32_t count = ld32(h + ACI_INIT_COUNT);
    if (count == 0)
        return fail(v, ACI_ERR_BAD_INIT, off);
    uint64_t at = off + ACI_INIT_BYTES;
    for (uint32_t k = 0; k < count; k++) {
        if (at + ACI_INIT_CHUNK_BYTES > end)
            return fail(v, ACI_ERR_BAD_INIT, at);
        READ(c, v, at, ACI_INIT_CHUNK_BYTES, end);
        if (ld32(c + ACI_INIT_CHUNK_RESERVED))
            return fail(v, ACI_ERR_RESERVED_NONZERO, at + ACI_INIT_CHUNK_RESERVED);
        uint64_t address = ld64(c + ACI_INIT_CHUNK_ADDRESS);
        uint32_t n = ld32(c + ACI_INIT_CHUNK_LENGTH);
        if (n == 0 || !inside_span(v->img, address, n))
            return fail(v, ACI_ERR_BAD_INIT, at);
        if (address < prev_end)
            return fail(v, ACI_ERR_BAD_INIT, at);
        uint64_t body = at + ACI_INIT_CHUNK_BYTES, padded = (uint64_t)n + (-(uint64_t)n & 7u);
        if (body + padded > end)
            return fail(v, ACI_ERR_BAD_INIT, at + ACI_INIT_CHUNK_LENGTH);
        for (uint64_t p = body + n; p < body + padded; p++)
            if (v->data[p])
                return fail(v, ACI_ERR_BAD_INIT, p);
        if (v->hooks && v->hooks->port_span)
            v->hooks->port_span(v->hooks->user, address, address + (n - 1));
        prev_end = address + n;
        at = body + padded;
    }
    if (at != end)
        return fail(v, ACI_ERR_BAD_INIT, at);
    v->img->init_off = off;
    v->img->init_len = length;
    return ACI_OK;
}

/* ---- decode ------------------------------------------------------------------ */

uint32_t aci_validate(const uint8_t *data, size_t length, const aci_hooks *hooks, aci_image *img,
                      uint32_t *offset)
{
    V v;
    fill0(&v, sizeof v);
    v.data = data;
    v.len = length;
    v.offset = offset;
    v.hooks = hooks;
    v.img = img;
    *offset = 0;
    img->data = data;
    img->length = (uint32_t)length;
    img->memory_count = img->core_count = 0;
    img->symbols_off = img->symbols_len = 0;
    img->init_off = img->init_len = 0;
    img->operations = img->work_units = 0;
    img->prepared = 0;
    for (unsigned k = 0; k < 256; k++)
        img->core_index[k] = NO_CORE;
    CHECK(check_header(&v));
    CHECK(check_target(&v, v.sec_off[ACI_SECTION_TARGET], v.sec_len[ACI_SECTION_TARGET]));
    CHECK(check_cores(&v, v.sec_off[ACI_SECTION_CORES], v.sec_len[ACI_SECTION_CORES]));
    if (v.sec_len[ACI_SECTION_SYNC] != ACI_SYNC_BYTES)
        return fail(&v, ACI_ERR_SECTION_SIZE, v.sec_off[ACI_SECTION_SYNC]);
    img->sync_off = v.sec_off[ACI_SECTION_SYNC];
    CHECK(check_params(&v, v.sec_off[ACI_SECTION_PARAM], v.sec_len[ACI_SECTION_PARAM]));
    if (v.present & 1u << ACI_SECTION_SYMBOLS) {
        CHECK(check_symbols(&v, v.sec_off[ACI_SECTION_SYMBOLS], v.sec_len[ACI_SECTION_SYMBOLS]));
        img->symbols_off = v.sec_off[ACI_SECTION_SYMBOLS];
        img->symbols_len = v.sec_len[ACI_SECTION_SYMBOLS];
    }
    img->compute_off = v.sec_off[ACI_SECTION_COMPUTE];
    img->compute_len = v.sec_len[ACI_SECTION_COMPUTE];
    CHECK(check_compute(&v));
    if (v.line_lookup) {
        for (uint32_t k = 0; k < v.line_count && !v.stray; k++)
            v.stray = !is_instruction(&v, line_offset(&v, k));
    } else {
        v.stray |= v.line_next < v.line_count; /* past the last instruction */
    }
    if (v.stray)
        return fail(&v, ACI_ERR_BAD_SYMBOLS, v.sec_off[ACI_SECTION_SYMBOLS]);
    if (v.present & 1u << ACI_SECTION_INIT)
        CHECK(check_init(&v, v.sec_off[ACI_SECTION_INIT], v.sec_len[ACI_SECTION_INIT]));
    img->operations = v.operations;
    img->work_units = v.work_units + 1; /* and the chains' common end */
    return ACI_OK;
}
