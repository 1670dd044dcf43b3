/* SPDX-License-Identifier: Apache-2.0
 *
 * ovsec-pki self-sign NAME: signs NAME-req.pem with its own key
 * NAME-privkey.pem, making the self-signed certificate NAME-cert.pem that
 * a peer pins with options:remote_cert.
 *
 * Upstream puts NAME in the subjectAltName, which differs from the CN
 * "NAME id:UUID" of a request made without -u, and IKE peers then refuse
 * the certificate; here the subjectAltName is the CN, as everywhere.
 */
#include "config.h"
#define OPENSSL_API_COMPAT 30000
#include "pki.h"

#include <errno.h>
#include <stdlib.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include "outfiles.h"

int
cmd_self_sign(struct pki_ctx *ctx, int n_args OVS_UNUSED__, char *args[],
              char **ret_why)
{
    const char *name = args[0];
    char *req_path = pki_file_name(name, "req.pem");
    char *key_path = pki_file_name(name, "privkey.pem");
    char *cert_path = pki_file_name(name, "cert.pem");
    struct outfiles *of = outfiles_create();
    X509_REQ *req = NULL;
    EVP_PKEY *key = NULL;
    X509 *cert = NULL;
    char *cn = NULL;
    int error;

    *ret_why = pki_check_name(name, false, true);
    if (*ret_why) {
        error = -EINVAL;
        goto out;
    }
    error = pki_load_req(req_path, &req, &cn, ret_why);
    if (error) {
        goto out;
    }
    error = x509_key_load(key_path, &key, NULL, ret_why);
    if (error) {
        goto out;
    }
    if (EVP_PKEY_eq(key, X509_REQ_get0_pubkey(req)) != 1) {
        error = -EINVAL;
        *ret_why = xasprintf("%s: not the private key of %s", key_path,
                             req_path);
        goto out;
    }
    error = pki_must_not_exist(ctx, cert_path, ret_why);
    if (error) {
        goto out;
    }

    error = pki_issue(ctx, req, cn, NULL, key, &cert, ret_why);
    if (!error) {
        error = pki_stage_cert(ctx, of, cert_path, cert, ret_why);
    }
    if (!error) {
        error = outfiles_commit(of, ctx->force, ret_why);
    }
    if (!error) {
        pki_log(ctx, "self-signed %s for CN \"%s\", %d days", cert_path, cn,
                ctx->days);
    }

out:
    X509_free(cert);
    EVP_PKEY_free(key);
    free(cn);
    X509_REQ_free(req);
    outfiles_destroy(of);
    free(cert_path);
    free(key_path);
    free(req_path);
    return error;
}
