/* SPDX-License-Identifier: Apache-2.0
 *
 * ovsec-pki req NAME: makes a private key NAME-privkey.pem (mode 0600) and
 * a certificate request NAME-req.pem for it, and prints the request's
 * fingerprint for the CA operator to compare.  Needs no PKI directory.
 */
#include "config.h"
#define OPENSSL_API_COMPAT 30000
#include "pki.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include "outfiles.h"

/* Returns a new random (version 4) UUID string. */
static char *
random_uuid__(void)
{
    uint8_t u[16];

    if (RAND_bytes(u, sizeof u) != 1) {
        /* OpenSSL's CSPRNG fails only if it cannot be seeded at all. */
        ERR_clear_error();
        abort();
    }
    u[6] = (u[6] & 0x0f) | 0x40;
    u[8] = (u[8] & 0x3f) | 0x80;
    return xasprintf("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
                     "%02x%02x%02x%02x%02x%02x",
                     u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7],
                     u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
}

int
pki_make_request(const struct pki_ctx *ctx, const char *name,
                 struct outfiles *of, X509_REQ **ret_req, char **ret_cn,
                 char **ret_why)
{
    char *key_path = pki_file_name(name, "privkey.pem");
    char *req_path = pki_file_name(name, "req.pem");
    X509_NAME *subject = NULL;
    X509_REQ *req = NULL;
    EVP_PKEY *key = NULL;
    char *pem = NULL;
    char *cn = NULL;
    size_t size = 0;
    int error;

    *ret_req = NULL;
    *ret_cn = NULL;

    error = pki_must_not_exist(ctx, key_path, ret_why);
    if (!error) {
        error = pki_must_not_exist(ctx, req_path, ret_why);
    }
    if (error) {
        goto out;
    }

    /* Upstream makes the CN unique with a UUID unless told the name is
     * unique already.  Either way the subjectAltName is the CN itself:
     * IKE peers look for the CN among the certificate's DNS names. */
    if (ctx->unique) {
        cn = xstrdup(name);
    } else {
        char *uuid = random_uuid__();
        cn = xasprintf("%s id:%s", name, uuid);
        free(uuid);
    }
    *ret_why = pki_check_cn(cn, name);
    if (*ret_why) {
        error = -EINVAL;
        goto out;
    }

    error = pki_generate_key(ctx, &key, ret_why);
    if (error) {
        goto out;
    }
    subject = pki_subject_new("Open vSwitch certifier", cn);
    const char *dns[] = { cn, NULL };
    error = x509_req_create(subject, dns, key, &req, ret_why);
    if (error) {
        goto out;
    }

    error = pki_stage_key(of, key_path, key, ret_why);
    if (error) {
        goto out;
    }
    pem = x509_req_to_pem(req, &size);
    error = outfiles_add(of, req_path, pem, size, 0644 & ~ctx->umask,
                         ret_why);
    if (error) {
        goto out;
    }
    *ret_req = req;
    *ret_cn = cn;
    req = NULL;
    cn = NULL;

out:
    free(pem);
    free(cn);
    X509_REQ_free(req);
    X509_NAME_free(subject);
    EVP_PKEY_free(key);
    free(req_path);
    free(key_path);
    return error;
}

int
cmd_req(struct pki_ctx *ctx, int n_args OVS_UNUSED__, char *args[],
        char **ret_why)
{
    const char *name = args[0];
    struct outfiles *of = outfiles_create();
    X509_REQ *req = NULL;
    char *req_path = pki_file_name(name, "req.pem");
    char *cn = NULL;
    int error;

    *ret_why = pki_check_name(name, true, ctx->unique);
    if (*ret_why) {
        error = -EINVAL;
        goto out;
    }
    error = pki_make_request(ctx, name, of, &req, &cn, ret_why);
    if (error) {
        goto out;
    }
    error = outfiles_commit(of, ctx->force, ret_why);
    if (error) {
        goto out;
    }
    pki_log(ctx, "wrote %s-privkey.pem and %s for CN \"%s\"", name,
            req_path, cn);
    error = pki_print_fingerprint(ctx, req_path, ret_why);

out:
    free(cn);
    X509_REQ_free(req);
    free(req_path);
    outfiles_destroy(of);
    return error;
}
