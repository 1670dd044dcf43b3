/* SPDX-License-Identifier: Apache-2.0
 *
 * ovsec-pki verify NAME [TYPE]: checks that NAME-cert.pem chains to the
 * CA of TYPE and is valid now, printing "NAME-cert.pem: OK" as upstream
 * (through "openssl verify") does.  It also warns about what IKE peers
 * would refuse even in a valid certificate: a subjectAltName without the
 * CN.
 */
#include "config.h"
#define OPENSSL_API_COMPAT 30000
#include "pki.h"

#include <errno.h>
#include <stdlib.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

/* Prints warnings about 'cert' (from 'path') that matter to IKE. */
static void
warn_ike__(const struct pki_ctx *ctx, const char *path, const X509 *cert)
{
    char *cn = NULL;
    char *why = NULL;

    if (x509_cert_get_cn(cert, &cn, &why)) {
        fprintf(ctx->err, "warning: %s: %s\n", path, why);
    } else if (!x509_cert_has_dns_name(cert, cn)) {
        fprintf(ctx->err, "warning: %s: no subjectAltName DNS entry equals "
                "the CN \"%s\"; strongSwan and Libreswan peers will refuse "
                "it as that name\n", path, cn);
    }
    free(why);
    free(cn);
}

int
cmd_verify(struct pki_ctx *ctx, int n_args, char *args[], char **ret_why)
{
    const char *name = args[0];
    char *cert_path = pki_file_name(name, "cert.pem");
    X509_STORE_CTX *vctx = NULL;
    X509_STORE *store = NULL;
    enum pki_ca_type type;
    X509 *ca_cert = NULL;
    X509 *cert = NULL;
    int error;

    *ret_why = pki_check_name(name, false, true);
    if (*ret_why) {
        error = -EINVAL;
        goto out;
    }
    error = x509_cert_load(cert_path, &cert, NULL, ret_why);
    if (error) {
        goto out;
    }
    error = pki_parse_ca_type(n_args > 1 ? args[1] : NULL, &type, ret_why);
    if (error) {
        goto out;
    }
    error = pki_load_ca(ctx, type, &ca_cert, NULL, ret_why);
    if (error) {
        goto out;
    }

    store = X509_STORE_new();
    vctx = X509_STORE_CTX_new();
    if (!store || !vctx || !X509_STORE_add_cert(store, ca_cert)
        || !X509_STORE_CTX_init(vctx, store, cert, NULL)) {
        error = -ENOMEM;
        *ret_why = x509_why_openssl("%s: cannot set up verification",
                                    cert_path);
        goto out;
    }
    if (X509_verify_cert(vctx) != 1) {
        int code = X509_STORE_CTX_get_error(vctx);
        error = -EINVAL;
        *ret_why = xasprintf("%s: verification failed against the %s CA: "
                             "%s (at depth %d)", cert_path,
                             pki_ca_type_name(type),
                             X509_verify_cert_error_string(code),
                             X509_STORE_CTX_get_error_depth(vctx));
        goto out;
    }
    fprintf(ctx->out, "%s: OK\n", cert_path);
    warn_ike__(ctx, cert_path, cert);

out:
    X509_STORE_CTX_free(vctx);
    X509_STORE_free(store);
    X509_free(ca_cert);
    X509_free(cert);
    free(cert_path);
    ERR_clear_error();
    return error;
}
