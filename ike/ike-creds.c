/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"
#include "ike-creds.h"

#include <stdlib.h>
#include <string.h>
#include "global-conf.h"
#include "secret.h"
#include "util.h"
#include "x509.h"

#define CERT_COLUMN "Open_vSwitch: other_config:certificate"
#define KEY_COLUMN "Open_vSwitch: other_config:private_key"
#define CA_COLUMN "Open_vSwitch: other_config:ca_cert"

void
ike_creds_free_pems(char **pems, size_t n)
{
    for (size_t i = 0; pems && i < n; i++) {
        free(pems[i]);
    }
    free(pems);
}

/* Reads the certificates of file 'path', the value of 'column': the first
 * only, unless 'bundle', in which case all, each of which must be a CA.
 * Returns NULL or a new message. */
static char *
read_pems__(const char *column, const char *path, bool bundle,
            char ***ret_pems, size_t *ret_n)
{
    X509 **certs = NULL;
    size_t n_certs = 0, n = 0;
    char **pems = NULL;
    char *why = NULL;
    char *msg = NULL;

    *ret_pems = NULL;
    *ret_n = 0;
    if (x509_certs_load(path, &certs, &n_certs, &why)) {
        msg = xasprintf("%s: %s", column, why);
        free(why);
        return msg;
    }
    pems = xcalloc(n_certs, sizeof *pems);
    for (n = 0; n < (bundle ? n_certs : 1); n++) {
        size_t size;

        if (bundle && !x509_cert_is_ca(certs[n])) {
            char *subject = x509_cert_subject(certs[n]);
            msg = xasprintf("%s: %s: certificate %zu (%s) is not a CA "
                            "certificate (no basicConstraints CA:TRUE)",
                            column, path, n + 1, subject);
            free(subject);
            break;
        }
        pems[n] = x509_cert_to_pem(certs[n], &size);
    }
    x509_certs_free(certs, n_certs);
    if (msg) {
        ike_creds_free_pems(pems, n);
    } else {
        *ret_pems = pems;
        *ret_n = n;
    }
    return msg;
}

char *
ike_creds_read_cert(const char *column, const char *path, char **ret_pem)
{
    char **pems;
    size_t n;
    char *msg = read_pems__(column, path, false, &pems, &n);

    *ret_pem = n ? pems[0] : NULL;
    free(pems);
    return msg;
}

/* Reads the private key file 'path' into a new secret in '*ret'; the
 * copy read is zeroed. */
static char *
read_key__(const char *path, struct secret **ret)
{
    size_t size = 0;
    char *data = NULL;
    char *why = NULL;

    *ret = NULL;
    if (x509_read_file(path, &data, &size, &why)) {
        char *msg = xasprintf(KEY_COLUMN ": %s", why);
        free(why);
        return msg;
    }
    *ret = secret_create(data, size);
    memzero_explicit(data, size);
    free(data);
    return NULL;
}

char *
ike_creds_read(const struct global_conf *g, struct ike_creds *creds)
{
    char *msg = NULL;

    ike_creds_clear(creds);
    if (g->cert_error) {
        return xstrdup(g->cert_error);
    } else if (!g->certificate || !g->private_key) {
        return NULL;
    }
    msg = ike_creds_read_cert(CERT_COLUMN, g->certificate, &creds->cert_pem);
    if (!msg) {
        msg = read_key__(g->private_key, &creds->key_pem);
    }
    if (!msg && g->ca_cert) {
        msg = read_pems__(CA_COLUMN, g->ca_cert, true, &creds->ca_pems,
                          &creds->n_ca_pems);
    }
    if (msg) {
        ike_creds_clear(creds);
    }
    return msg;
}

void
ike_creds_clear(struct ike_creds *creds)
{
    if (creds) {
        free(creds->cert_pem);
        secret_destroy(creds->key_pem);
        ike_creds_free_pems(creds->ca_pems, creds->n_ca_pems);
        memset(creds, 0, sizeof *creds);
    }
}

bool
ike_creds_ca_equal(const struct ike_creds *a, const struct ike_creds *b)
{
    if (a->n_ca_pems != b->n_ca_pems) {
        return false;
    }
    for (size_t i = 0; i < a->n_ca_pems; i++) {
        if (strcmp(a->ca_pems[i], b->ca_pems[i])) {
            return false;
        }
    }
    return true;
}
