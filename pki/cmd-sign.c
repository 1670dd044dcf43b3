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

/* What "sign" and "req+sign" work on. */
struct sign_job {
    char *req_path;             /* NAME-req.pem. */
    char *cert_path;            /* NAME-cert.pem. */
    struct outfiles *of;        /* Files to move into place together. */
    enum pki_ca_type type;      /* The CA that signs. */
    EVP_PKEY *ca_key;           /* Its key and certificate, once loaded. */
    X509 *ca_cert;
    X509_REQ *req;              /* The request and its CN, once loaded. */
    char *cn;
};

/* Issues a certificate for 'job''s request with its CA, adds it to 'job''s
 * files as its cert_path and commits them.  Then records it in the CA's
 * database and the audit log. */
static int
issue_and_commit__(struct pki_ctx *ctx, struct sign_job *job, char **ret_why)
{
    char *ca_dir = pki_ca_dir(ctx, job->type);
    X509 *cert = NULL;
    int error;

    error = pki_issue(ctx, job->req, job->cn, job->ca_cert, job->ca_key,
                      &cert, ret_why);
    if (!error) {
        error = pki_stage_cert(ctx, job->of, job->cert_path, cert, ret_why);
    }
    if (!error) {
        error = outfiles_commit(job->of, ctx->force, ret_why);
    }
    if (!error) {
        note_cut_short__(ctx, job->cert_path, cert);
        pki_record_issued(ctx, ca_dir, cert);
        pki_log(ctx, "%s signed %s for CN \"%s\", %d days", ca_dir,
                job->cert_path, job->cn, ctx->days);
    }
    X509_free(cert);
    free(ca_dir);
    return error;
}

/* Initializes 'job' for NAME 'args[0]' and checks that name (see
 * pki_check_name() for 'new_key' and 'unique') and the optional CA type
 * 'args[1]'.  Whatever it returns, free 'job' with sign_job_destroy__(). */
static int
sign_job_init__(struct sign_job *job, int n_args, char *args[],
                bool new_key, bool unique, char **ret_why)
{
    const char *name = args[0];

    memset(job, 0, sizeof *job);
    job->req_path = pki_file_name(name, "req.pem");
    job->cert_path = pki_file_name(name, "cert.pem");
    job->of = outfiles_create();

    *ret_why = pki_check_name(name, new_key, unique);
    if (*ret_why) {
        return -EINVAL;
    }
    return pki_parse_ca_type(n_args > 1 ? args[1] : NULL, &job->type,
                             ret_why);
}

/* Loads the CA of 'job' and checks that its certificate is not there
 * yet. */
static int
sign_job_load_ca__(struct pki_ctx *ctx, struct sign_job *job,
                   char **ret_why)
{
    int error = pki_load_ca(ctx, job->type, &job->ca_cert, &job->ca_key,
                            ret_why);
    return error ? error : pki_must_not_exist(ctx, job->cert_path, ret_why);
}

static void
sign_job_destroy__(struct sign_job *job)
{
    free(job->cn);
    X509_REQ_free(job->req);
    X509_free(job->ca_cert);
    EVP_PKEY_free(job->ca_key);
    outfiles_destroy(job->of);
    free(job->cert_path);
    free(job->req_path);
}

int
cmd_sign(struct pki_ctx *ctx, int n_args, char *args[], char **ret_why)
{
    struct sign_job job;
    int error;

    error = sign_job_init__(&job, n_args, args, false, true, ret_why);
    if (error) {
        goto out;
    }

    /* Everything that can fail is checked before the question. */
    error = pki_load_req(job.req_path, &job.req, &job.cn, ret_why);
    if (error) {
        goto out;
    }
    error = sign_job_load_ca__(ctx, &job, ret_why);
    if (error) {
        goto out;
    }

    error = pki_print_fingerprint(ctx, job.req_path, ret_why);
    if (error) {
        goto out;
    }
    fprintf(ctx->out, "\tCN \"%s\", to be signed by the %s CA\n", job.cn,
            pki_ca_type_name(job.type));
    if (!ctx->batch) {
        error = confirm__(ctx, job.req_path, ret_why);
        if (error) {
            goto out;
        }
    }

    error = issue_and_commit__(ctx, &job, ret_why);

out:
    sign_job_destroy__(&job);
    return error;
}

int
cmd_req_sign(struct pki_ctx *ctx, int n_args, char *args[], char **ret_why)
{
    const char *name = args[0];
    struct sign_job job;
    int error;

    error = sign_job_init__(&job, n_args, args, true, ctx->unique, ret_why);
    if (error) {
        goto out;
    }
    error = sign_job_load_ca__(ctx, &job, ret_why);
    if (error) {
        goto out;
    }

    /* The key, the request and the certificate are moved into place
     * together. */
    error = pki_make_request(ctx, name, job.of, &job.req, &job.cn, ret_why);
    if (error) {
        goto out;
    }
    error = issue_and_commit__(ctx, &job, ret_why);
    if (error) {
        goto out;
    }
    pki_log(ctx, "wrote %s-privkey.pem and %s for CN \"%s\"", name,
            job.req_path, job.cn);
    error = pki_print_fingerprint(ctx, job.req_path, ret_why);

out:
    sign_job_destroy__(&job);
    return error;
}
