/* SPDX-License-Identifier: Apache-2.0
 *
 * ike-creds: the credentials both IKE backends read from the files the
 * Open_vSwitch row names (other_config:certificate, private_key,
 * ca_cert) and from a tunnel's options:remote_cert.
 *
 * Certificates come out in PEM form as OpenSSL re-encodes them, so that
 * nothing of a file but its certificates reaches an IKE daemon, and two
 * files with the same certificates compare equal.  The private key is
 * the file's contents, in a secret.  Error messages name the column, the
 * path and the reason.
 */
#ifndef OVSEC_IKE_CREDS_H
#define OVSEC_IKE_CREDS_H 1

#include <stdbool.h>
#include <stddef.h>

struct global_conf;
struct secret;

/* Our certificate and key, and the CA certificates. */
struct ike_creds {
    char *cert_pem;             /* The first certificate of 'certificate'. */
    struct secret *key_pem;     /* The contents of 'private_key'. */
    char **ca_pems;             /* Every certificate of 'ca_cert' (each a */
    size_t n_ca_pems;           /* CA), or none without one. */
};

/* Reads the files of 'g' into 'creds' (which the caller initializes to
 * zeros and later clears): nothing without a certificate and a key.
 * Returns NULL, or a new message (g->cert_error if the monitor found one)
 * and leaves 'creds' empty. */
char *ike_creds_read(const struct global_conf *g, struct ike_creds *creds);
/* Frees what 'creds' holds and zeroes it.  NULL ok. */
void ike_creds_clear(struct ike_creds *creds);
/* Frees the 'n' strings in 'pems' and the array.  NULL ok. */
void ike_creds_free_pems(char **pems, size_t n);
/* True if 'a' and 'b' hold the same CA certificates, in order. */
bool ike_creds_ca_equal(const struct ike_creds *a, const struct ike_creds *b);

/* Reads the first certificate of file 'path', the value of 'column' (e.g.
 * "options:remote_cert"), into a new string in '*ret_pem'.  Returns NULL
 * or a new error message ('*ret_pem' NULL). */
char *ike_creds_read_cert(const char *column, const char *path,
                          char **ret_pem);

#endif /* ike-creds.h */
