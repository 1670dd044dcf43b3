/* SPDX-License-Identifier: Apache-2.0
 *
 * ovsec-pki sign NAME [TYPE]: the CA of TYPE signs NAME-req.pem, making
 * NAME-cert.pem, after the operator confirms the request's fingerprint
 * (unless -b).  ovsec-pki req+sign NAME [TYPE]: req and sign in one step,
 * without the question.
 *
 * The certificate gets the request's subject and public key, and a
 * subjectAltName DNS entry equal to its CN; extensions the request asks
 * for are ignored, so a request cannot make itself a CA.
 */
#include "config.h"
#define OPENSSL_API_COMPAT 30000
#include "pki.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include "outfiles.h"

/* Asks the operator whether the fingerprint printed just before matches
 * the one "req" printed.  Returns 0 for "yes", else -ECANCELED or
 * -ENOTTY with a message. */
static int
confirm__(struct pki_ctx *ctx, const char *req_path, char **ret_why)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int error = 0;

    if (!ctx->interactive) {
        /* Reading an answer from a pipe or /dev/null would either hang or
         * sign without anyone having looked. */
        *ret_why = xasprintf("not signing %s: standard input is not a "
                             "terminal, so its fingerprint cannot be "
                             "confirmed; compare the fingerprint above with "
                             "the one \"req\" printed, then sign with -b "
                             "(--batch)", req_path);
        return -ENOTTY;
    }

    fprintf(ctx->out, "Does fingerprint match? (yes/no)\n");
    fflush(ctx->out);
    len = getline(&line, &cap, ctx->in);
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) {
        line[--len] = '\0';
    }
    if (len < 0 || strcmp(line, "yes")) {
        *ret_why = xstrdup("Match failure, aborting");
        error = -ECANCELED;
    }
    free(line);
    return error;
}

/* Notes if 'cert' was cut short to end with its CA certificate (see
 * x509_cert_issue()) by more than a day. */
static void
note_cut_short__(const struct pki_ctx *ctx, const char *cert_path,
                 const X509 *cert)
{
    ASN1_TIME *asked = X509_time_adj_ex(NULL, ctx->days, 0, NULL);
    int days, secs;

    if (asked
        && ASN1_TIME_diff(&days, &secs, X509_get0_notAfter(cert), asked)
        && days >= 1) {
        fprintf(ctx->err, "note: %s: valid for %d days less than asked, "
                "until its CA certificate expires\n", cert_path, days);
    }
    ASN1_TIME_free(asked);
}

/* Issues a certificate for 'req' (CN 'cn') with the CA of 'type', adds it
 * to 'of' as 'cert_path' and commits 'of'.  Then records it in the CA's
 * database and the audit log. */
static int
issue_and_commit__(struct pki_ctx *ctx, enum pki_ca_type type,
                   const X509 *ca_cert, EVP_PKEY *ca_key, X509_REQ *req,
                   const char *cn, struct outfiles *of,
                   const char *cert_path, char **ret_why)
{
    char *ca_dir = pki_ca_dir(ctx, type);
    X509 *cert = NULL;
    int error;

    error = pki_issue(ctx, req, cn, ca_cert, ca_key, &cert, ret_why);
    if (!error) {
        error = pki_stage_cert(ctx, of, cert_path, cert, ret_why);
    }
    if (!error) {
        error = outfiles_commit(of, ctx->force, ret_why);
    }
    if (!error) {
        note_cut_short__(ctx, cert_path, cert);
        pki_record_issued(ctx, ca_dir, cert);
        pki_log(ctx, "%s signed %s for CN \"%s\", %d days", ca_dir,
                cert_path, cn, ctx->days);
    }
    X509_free(cert);
    free(ca_dir);
    return error;
}

int
cmd_sign(struct pki_ctx *ctx, int n_args, char *args[], char **ret_why)
{
    const char *name = args[0];
    char *req_path = pki_file_name(name, "req.pem");
    char *cert_path = pki_file_name(name, "cert.pem");
    struct outfiles *of = outfiles_create();
    enum pki_ca_type type;
    EVP_PKEY *ca_key = NULL;
    X509 *ca_cert = NULL;
    X509_REQ *req = NULL;
    char *cn = NULL;
    int error;

    *ret_why = pki_check_name(name, false, true);
    if (*ret_why) {
        error = -EINVAL;
        goto out;
    }
    error = pki_parse_ca_type(n_args > 1 ? args[1] : NULL, &type, ret_why);
    if (error) {
        goto out;
    }

    /* Everything that can fail is checked before the question. */
    error = pki_load_req(req_path, &req, &cn, ret_why);
    if (error) {
        goto out;
    }
    error = pki_load_ca(ctx, type, &ca_cert, &ca_key, ret_why);
    if (error) {
        goto out;
    }
    error = pki_must_not_exist(ctx, cert_path, ret_why);
    if (error) {
        goto out;
    }

    error = pki_print_fingerprint(ctx, req_path, ret_why);
    if (error) {
        goto out;
    }
    fprintf(ctx->out, "\tCN \"%s\", to be signed by the %s CA\n", cn,
            pki_ca_type_name(type));
    if (!ctx->batch) {
        error = confirm__(ctx, req_path, ret_why);
        if (error) {
            goto out;
        }
    }

    error = issue_and_commit__(ctx, type, ca_cert, ca_key, req, cn, of,
                               cert_path, ret_why);

out:
    free(cn);
    X509_REQ_free(req);
    X509_free(ca_cert);
    EVP_PKEY_free(ca_key);
    outfiles_destroy(of);
    free(cert_path);
    free(req_path);
    return error;
}

int
cmd_req_sign(struct pki_ctx *ctx, int n_args, char *args[], char **ret_why)
{
    const char *name = args[0];
    char *req_path = pki_file_name(name, "req.pem");
    char *cert_path = pki_file_name(name, "cert.pem");
    struct outfiles *of = outfiles_create();
    enum pki_ca_type type;
    EVP_PKEY *ca_key = NULL;
    X509 *ca_cert = NULL;
    X509_REQ *req = NULL;
    char *cn = NULL;
    int error;

    *ret_why = pki_check_name(name, true, ctx->unique);
    if (*ret_why) {
        error = -EINVAL;
        goto out;
    }
    error = pki_parse_ca_type(n_args > 1 ? args[1] : NULL, &type, ret_why);
    if (error) {
        goto out;
    }
    error = pki_load_ca(ctx, type, &ca_cert, &ca_key, ret_why);
    if (error) {
        goto out;
    }
    error = pki_must_not_exist(ctx, cert_path, ret_why);
    if (error) {
        goto out;
    }

    /* The key, the request and the certificate are moved into place
     * together. */
    error = pki_make_request(ctx, name, of, &req, &cn, ret_why);
    if (error) {
        goto out;
    }
    error = issue_and_commit__(ctx, type, ca_cert, ca_key, req, cn, of,
                               cert_path, ret_why);
    if (error) {
        goto out;
    }
    pki_log(ctx, "wrote %s-privkey.pem and %s for CN \"%s\"", name,
            req_path, cn);
    error = pki_print_fingerprint(ctx, req_path, ret_why);

out:
    free(cn);
    X509_REQ_free(req);
    X509_free(ca_cert);
    EVP_PKEY_free(ca_key);
    outfiles_destroy(of);
    free(cert_path);
    free(req_path);
    return error;
}
