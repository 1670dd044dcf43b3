/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "fingerprint.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

void
fingerprint_bytes(const void *data, size_t size, struct fingerprint *fp)
{
    XXH128_hash_t h = XXH3_128bits(size ? data : "", size);

    fp->hi = h.high64;
    fp->lo = h.low64;
}
