/* Key files of the board daemon (keys.h). */
#include "keys.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static int z85_char(int c)
{
    return c && strchr("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/"
                       "*?&<>()[]{}@%$#",
                       c);
}

/* The key at the start of line (after leading blanks): its 40 characters, or 0. */
static const char *key_at(const char *line)
{
    while (*line == ' ' || *line == '\t')
        line++;
    for (int k = 0; k < KEY_Z85; k++)
        if (!z85_char((unsigned char)line[k]))
            return 0;
    char end = line[KEY_Z85];
    return end == 0 || end == '\n' || end == '\r' || end == ' ' || end == '\t' ? line : 0;
}

/* fgets, but a line longer than the buffer is cut: the rest is read and dropped, so
 * it is never taken for a line of its own. */
static char *get_line(char *line, int n, FILE *f)
{
    if (!fgets(line, n, f))
        return 0;
    if (!strchr(line, '\n')) {
        int c;
        while ((c = fgetc(f)) != EOF && c != '\n')
            ;
    }
    return line;
}

static int skipped(const char *line)
{
    while (*line == ' ' || *line == '\t')
        line++;
    return *line == '#' || *line == '\n' || *line == '\r' || *line == 0;
}

int key_read(const char *path, char z85[KEY_Z85 + 1], char *why, size_t why_len)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(why, why_len, "cannot read key file %s: %s", path, strerror(errno));
        return -1;
    }
    char line[512];
    int found = -1;
    while (get_line(line, sizeof line, f)) {
        if (skipped(line))
            continue;
        const char *k = key_at(line);
        if (k) {
            memcpy(z85, k, KEY_Z85);
            z85[KEY_Z85] = 0;
            found = 0;
        }
        break;
    }
    fclose(f);
    if (found)
        snprintf(
            why, why_len,
            "%s holds no key: its first line that is not a comment must be a 40-character Z85 key",
            path);
    return found;
}

int key_authorised(const char *path, const char *z85)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[512];
    int yes = 0;
    while (strlen(z85) == KEY_Z85 && !yes && get_line(line, sizeof line, f)) {
        if (skipped(line))
            continue;
        const char *k = key_at(line);
        yes = k && !memcmp(k, z85, KEY_Z85);
    }
    fclose(f);
    return yes;
}
