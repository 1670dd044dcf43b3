/* SPDX-License-Identifier: Apache-2.0
 *
 * ovsec-pki fingerprint FILE: prints the fingerprint of FILE as upstream
 * does (SHA-1 of the certificate if FILE holds one, else of the whole
 * file), followed by the SHA-256 of the same.
 */
#include "config.h"
#include "pki.h"

int
cmd_fingerprint(struct pki_ctx *ctx, int n_args OVS_UNUSED__, char *args[],
                char **ret_why)
{
    return pki_print_fingerprint(ctx, args[0], ret_why);
}
