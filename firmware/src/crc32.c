/* Stage helper: CRC-32 (IEEE 802.3, reflected, as zlib.crc32) of image bytes.
 *
 * The header's crc32 field covers the whole image with the field itself read as
 * zero (aci/encode.py image_crc). Table-driven, slicing-by-4 by default
 * (ACI_CONFIG_CRC_TABLES): the CRC reads every byte of an image, so it sets the
 * validator's cost per byte. The tables are built on first use.
 */
#include "internal.h"

#define POLY 0xEDB88320u

static uint32_t table[ACI_CONFIG_CRC_TABLES][256];
static int table_ready;

static void build_tables(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? POLY ^ (c >> 1) : c >> 1;
        table[0][i] = c;
    }
    for (int t = 1; t < ACI_CONFIG_CRC_TABLES; t++)
        for (uint32_t i = 0; i < 256; i++)
            table[t][i] = (table[t - 1][i] >> 8) ^ table[0][table[t - 1][i] & 0xFF];
    table_ready = 1;
}

uint32_t aci_crc32(uint32_t crc, const uint8_t *p, size_t n)
{
    if (!table_ready)
        build_tables();
    crc = ~crc;
#if ACI_CONFIG_CRC_TABLES >= 4
    for (; n >= 4; n -= 4, p += 4) {
        crc ^= ld32(p);
        crc = table[3][crc & 0xFF] ^ table[2][(crc >> 8) & 0xFF] ^ table[1][(crc >> 16) & 0xFF] ^
              table[0][crc >> 24];
    }
#endif
    while (n--)
        crc = table[0][(crc ^ *p++) & 0xFF] ^ (crc >> 8);
    return ~crc;
}

uint32_t aci_image_crc(const uint8_t *data, size_t length)
{
    static const uint8_t zero[4] = {0, 0, 0, 0};
    uint32_t crc = aci_crc32(0, data, ACI_HEADER_CRC32);
    crc = aci_crc32(crc, zero, 4);
    return aci_crc32(crc, data + ACI_HEADER_CRC32 + 4, length - (ACI_HEADER_CRC32 + 4));
}
