/* Key files of the board daemon (docs/protocol.md, "Keys"): a CURVE key is 32 bytes,
 * written as 40 characters of Z85 (ZeroMQ's RFC 32 encoding).
 *
 *   secret key file   the Z85 secret key on its first line that is not a comment
 *                     (`#`); created by `acic keygen` with mode 0600
 *   public key file   the Z85 public key on its first line that is not a comment
 *   authorised keys   one Z85 public key at the start of each line; what follows it
 *                     on the line (after white space) is a comment; blank lines and
 *                     lines starting with `#` are skipped
 */
#ifndef ACI_DAEMON_KEYS_H
#define ACI_DAEMON_KEYS_H

#include <stddef.h>

#define KEY_Z85 40

/* The first key of a key file into z85 (41 bytes, NUL-terminated): 0, or -1 with a
 * message in why. */
int key_read(const char *path, char z85[KEY_Z85 + 1], char *why, size_t why_len);

/* Whether the authorised-keys file lists the Z85 public key: 1 yes, 0 no (or z85
 * is not 40 characters), -1 the file cannot be read (then nobody is admitted). */
int key_authorised(const char *path, const char *z85);

#endif
