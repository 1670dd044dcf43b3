/* SPDX-License-Identifier: Apache-2.0
 *
 * x509: small helpers around OpenSSL 3 for the certificates and keys that
 * IPsec authentication uses: load a certificate or private key from a PEM
 * file, read the subject CN and subjectAltName DNS entries, check that a
 * key belongs to a certificate, SHA-256 digests and fingerprints, and
 * (for tests and the ovsec-pki tool) generate keys, certificate requests
 * and certificates for IKE and encode them as PEM.
 *
 * Pure: no logging, no global state besides OpenSSL's per-thread error
 * queue, which every function leaves empty.  Never runs the openssl
 * program.
 *
 * Conventions: functions that can fail return 0 or a negative errno value
 * and, when 'ret_why' is nonnull, store in it a new string saying why (the
 * caller frees it), or NULL on success.  Messages about a file start with
 * its path, e.g. "/etc/ipsec/cert.pem: No such file or directory", and
 * carry the OS or OpenSSL reason.  Nothing here ever prints key material.
 */
#ifndef OVSEC_X509_H
#define OVSEC_X509_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <openssl/types.h>
#include "util.h"

/* As in <openssl/x509.h>, which OpenSSL 3.0's <openssl/types.h> lacks
 * (C11 allows repeating a typedef). */
typedef struct X509_req_st X509_REQ;

/* Bytes in a SHA-256 digest. */
#define X509_DIGEST_SIZE 32

/* Largest PEM file read, in bytes: far more than any certificate chain or
 * key, small enough that a wrong path (a log file, /dev/zero) fails fast. */
#define X509_FILE_MAX_SIZE (1024 * 1024)

/* Reading files. */

/* Reads the regular file 'path' into memory (at most X509_FILE_MAX_SIZE
 * bytes).  On success returns 0 and stores a new buffer in '*ret_data'
 * (NUL-terminated for convenience, not counted in '*ret_size'); the caller
 * frees it, after zeroing it with memzero_explicit() if it held a key.
 * Returns -errno on failure: from open() or read(), -EISDIR or -EINVAL for
 * something that is not a regular file, -EFBIG for a file that is too
 * large. */
int x509_read_file(const char *path, char **ret_data, size_t *ret_size,
                   char **ret_why);

/* Stores the SHA-256 of 'size' bytes at 'data' in 'digest'. */
void x509_sha256(const void *data, size_t size,
                 uint8_t digest[X509_DIGEST_SIZE]);

/* Stores the SHA-256 of the contents of file 'path' in 'digest' (all
 * zeros on failure).  Returns 0 or -errno, as x509_read_file(). */
int x509_file_digest(const char *path, uint8_t digest[X509_DIGEST_SIZE],
                     char **ret_why);

/* Loading. */

/* Parses the first certificate in the 'size' bytes of PEM text at 'data';
 * other PEM blocks before it are skipped.  'what' names the source in
 * messages (usually the path).  On success returns 0 and stores a new
 * certificate in '*ret' (free with X509_free()).  Returns -EINVAL if no
 * certificate could be parsed, with the OpenSSL reason in '*ret_why'. */
int x509_cert_from_pem(const void *data, size_t size, const char *what,
                       X509 **ret, char **ret_why);

/* Reads file 'path' and parses its first certificate, as
 * x509_read_file() and x509_cert_from_pem().  If 'ret_digest' is nonnull,
 * stores in it the SHA-256 of the file contents that were parsed (so that
 * the digest and the certificate always agree), or zeros on failure. */
int x509_cert_load(const char *path, X509 **ret,
                   uint8_t ret_digest[X509_DIGEST_SIZE], char **ret_why);

/* Parses every certificate in the 'size' bytes of PEM text at 'data', in
 * order; PEM blocks of other types (a private key, say) are skipped, so
 * that nothing but certificates comes out.  'what' names the source in
 * messages.  On success returns 0 and stores in '*ret_certs' a new array
 * of '*ret_n' (at least 1) certificates; free it with x509_certs_free().
 * Returns -EINVAL if there is no certificate or one of them cannot be
 * parsed ("WHAT: certificate 2 is not valid: REASON" in '*ret_why'), or
 * -EFBIG if 'size' exceeds INT_MAX. */
int x509_certs_from_pem(const void *data, size_t size, const char *what,
                        X509 ***ret_certs, size_t *ret_n, char **ret_why);

/* Reads file 'path' and parses all its certificates, as x509_read_file()
 * and x509_certs_from_pem().  The file contents are zeroed before they are
 * freed, since the file may also hold a private key. */
int x509_certs_load(const char *path, X509 ***ret_certs, size_t *ret_n,
                    char **ret_why);

/* Frees the 'n' certificates in 'certs' and the array.  NULL ok. */
void x509_certs_free(X509 **certs, size_t n);

/* Parses the first private key of any type (RSA, EC, Ed25519, ...) in
 * the 'size' bytes of PEM text at 'data', in PKCS#8 or the traditional
 * per-algorithm format.  Encrypted keys are refused with -EINVAL (the
 * daemon has nobody to ask for a passphrase and never prompts).  On
 * success returns 0 and stores a new key in '*ret' (free with
 * EVP_PKEY_free()). */
int x509_key_from_pem(const void *data, size_t size, const char *what,
                      EVP_PKEY **ret, char **ret_why);

/* Reads file 'path' and parses its private key, as x509_read_file() and
 * x509_key_from_pem().  The file contents are zeroed before they are
 * freed.  'ret_digest', if nonnull, receives the SHA-256 of the contents
 * (zeros on failure). */
int x509_key_load(const char *path, EVP_PKEY **ret,
                  uint8_t ret_digest[X509_DIGEST_SIZE], char **ret_why);

/* Inspecting. */

/* Gets the UTF-8 text of the subject's CN (the last one, i.e. the most
 * specific, if there are several).  On success returns 0 and stores a new
 * string in '*ret_cn'; the caller frees it.  Returns -ENOENT if the
 * subject has no CN, -EINVAL if it cannot be converted to UTF-8 or holds
 * NUL or control characters. */
int x509_cert_get_cn(const X509 *, char **ret_cn, char **ret_why);

/* True if the subjectAltName of 'cert' has a DNS entry equal to 'name'
 * (compared without regard to ASCII case, as DNS names are).  False if it
 * has none or no subjectAltName at all. */
bool x509_cert_has_dns_name(const X509 *cert, const char *name);

/* Returns the subject in RFC 2253 form, e.g. "CN=host1,O=ovs", as a new
 * string; the caller frees it. */
char *x509_cert_subject(const X509 *);

/* True if 'cert' may sign certificates: a v3 certificate with
 * basicConstraints CA:TRUE, or a self-signed v1 certificate. */
bool x509_cert_is_ca(const X509 *cert);

/* True if 'key' is the private key of the public key in 'cert'. */
bool x509_key_matches_cert(const EVP_PKEY *key, const X509 *cert);

/* Stores in 'digest' the SHA-256 of the DER encoding of 'cert', the usual
 * certificate fingerprint.  Returns 0, or -EINVAL if it cannot be
 * encoded. */
int x509_cert_fingerprint(const X509 *cert,
                          uint8_t digest[X509_DIGEST_SIZE]);

/* Returns 'digest' as colon-separated uppercase hex, e.g. "3A:0F:...", in
 * a new string; the caller frees it. */
char *x509_fingerprint_format(const uint8_t digest[X509_DIGEST_SIZE]);

/* Returns a new string "WHAT: REASON", where WHAT is formatted from
 * 'format' and REASON is the reason of the most recent error in OpenSSL's
 * error queue (or "unknown OpenSSL error"), and clears the queue.  The
 * caller frees the result. */
char *x509_why_openssl(const char *format, ...) PRINTF_FORMAT(1, 2);

/* Creating. */

enum x509_key_type {
    X509_KEY_RSA,               /* RSA, 'bits' long (2048 if 0). */
    X509_KEY_EC,                /* ECDSA on NIST P-256 ('bits' 0 or 256) or
                                 * P-384 ('bits' 384). */
    X509_KEY_ED25519,           /* Ed25519 ('bits' ignored). */
    X509_KEY_N
};

/* Generates a new private key of 'type' ('bits' as in enum x509_key_type;
 * -EINVAL for an EC size other than 0, 256 or 384).  On success returns 0
 * and stores the key in '*ret' (free with EVP_PKEY_free()). */
int x509_key_generate(enum x509_key_type type, int bits, EVP_PKEY **ret,
                      char **ret_why);

/* What to put in a new certificate. */
struct x509_cert_spec {
    const char *cn;             /* Subject CN, or NULL for none. */
    const char *org;            /* Subject O, or NULL for none. */
    const char *const *dns;     /* subjectAltName DNS entries, terminated by
                                 * NULL.  NULL means just 'cn' (what IPsec
                                 * with strongSwan needs); an empty list
                                 * means no subjectAltName at all. */
    int days;                   /* Validity from now, in days (> 0). */
    bool ca;                    /* CA:TRUE, keyCertSign; else an end
                                 * entity with digitalSignature. */
};

/* Creates a version 3 certificate for 'spec' and the public half of
 * 'key', with a random serial number, signed by 'issuer_key' on behalf of
 * 'issuer' or, if 'issuer' is NULL, self-signed with 'key'.  The digest is
 * SHA-256 (none for Ed25519, which has its own).  On success returns 0
 * and stores the certificate in '*ret' (free with X509_free()). */
int x509_cert_create(const struct x509_cert_spec *spec, EVP_PKEY *key,
                     const X509 *issuer, EVP_PKEY *issuer_key, X509 **ret,
                     char **ret_why);

/* Writes 'cert' to 'path' in PEM form, mode 0644, through a temporary file
 * in the same directory renamed over 'path'.  Returns 0 or -errno. */
int x509_cert_write(const X509 *cert, const char *path, char **ret_why);

/* Writes 'key' unencrypted to 'path' in PKCS#8 PEM form, mode 0600,
 * through a temporary file renamed over 'path'.  Returns 0 or -errno. */
int x509_key_write(const EVP_PKEY *key, const char *path, char **ret_why);

/* Names and keys, for display and checks. */

/* Like x509_cert_get_cn(), for the name 'name'. */
int x509_name_get_cn(const X509_NAME *name, char **ret_cn, char **ret_why);

/* Returns 'name' in the one-line form that "openssl x509 -text" shows,
 * e.g. "C=US, O=Open vSwitch, CN=host1", as a new string; the caller frees
 * it.  Control and non-ASCII bytes are escaped, so the result is safe to
 * print on a terminal. */
char *x509_name_format(const X509_NAME *name);

/* Returns 'name' in the slash-separated form of OpenSSL's CA database
 * (index.txt), e.g. "/C=US/O=Open vSwitch/CN=host1", as a new string; the
 * caller frees it. */
char *x509_name_oneline(const X509_NAME *name);

/* Returns a new string describing the algorithm and size of 'key', e.g.
 * "RSA 3072 bits", "EC P-256 (256 bits)", "Ed25519 (256 bits)" or, for
 * other algorithms, their name and size.  The caller frees it.  Never
 * prints key material. */
char *x509_key_describe(const EVP_PKEY *key);

/* Certificate requests (PKCS#10). */

/* Parses the first certificate request in the 'size' bytes of PEM text at
 * 'data' (text before it, such as "openssl req -text" output, is skipped).
 * 'what' names the source in messages.  On success returns 0 and stores a
 * new request in '*ret' (free with X509_REQ_free()).  Returns -EINVAL if
 * no request could be parsed.  The request's signature is not checked: see
 * x509_req_check_signature(). */
int x509_req_from_pem(const void *data, size_t size, const char *what,
                      X509_REQ **ret, char **ret_why);

/* Reads file 'path' and parses its request, as x509_read_file() and
 * x509_req_from_pem(). */
int x509_req_load(const char *path, X509_REQ **ret, char **ret_why);

/* Checks that 'req' is signed by the private key of the public key it
 * carries, i.e. that whoever made it holds that key.  Returns 0, or
 * -EINVAL with "WHAT: ..." in '*ret_why'. */
int x509_req_check_signature(const X509_REQ *req, const char *what,
                             char **ret_why);

/* Creates a request for 'subject' and the public half of 'key', signed
 * with 'key' (digest as x509_cert_issue()), asking for a subjectAltName
 * with the DNS names in 'dns' (terminated by NULL; NULL or empty for none).
 * On success returns 0 and stores the request in '*ret' (free with
 * X509_REQ_free()). */
int x509_req_create(const X509_NAME *subject, const char *const *dns,
                    EVP_PKEY *key, X509_REQ **ret, char **ret_why);

/* Issuing certificates for IKE. */

/* What to put in a certificate made by x509_cert_issue(). */
struct x509_issue_spec {
    const X509_NAME *subject;   /* Subject name (copied). */
    const char *const *dns;     /* subjectAltName DNS entries, terminated by
                                 * NULL; NULL or empty for none. */
    int days;                   /* Validity from now, in days (> 0). */
    bool ca;                    /* A CA, else an end entity. */
};

/* Creates a version 3 certificate for 'spec' and the public key 'pubkey',
 * with a random 127-bit serial number, signed by 'issuer_key' on behalf of
 * 'issuer' or, if 'issuer' is NULL, self-signed with 'issuer_key' (which
 * must then be the private half of 'pubkey').  It is valid from now for
 * 'spec->days', but never after 'issuer' expires: peers would refuse it
 * from then on anyway.
 *
 * The extensions are those that strongSwan, Libreswan (NSS) and OpenSSL
 * accept for IKE: a CA gets basicConstraints "critical, CA:TRUE,
 * pathlen:0" and keyUsage "critical, keyCertSign, cRLSign"; an end entity
 * gets basicConstraints "critical, CA:FALSE", keyUsage "critical,
 * digitalSignature" (plus keyEncipherment for RSA, which NSS wants of
 * RSA keys for TLS server use), and extendedKeyUsage serverAuth,
 * clientAuth and ipsecIKE.  Both get subject and authority key
 * identifiers.  The signature digest is SHA-384 for a P-384 issuer key,
 * SHA-512 for P-521, none for EdDSA, else SHA-256.
 *
 * On success returns 0 and stores the certificate in '*ret' (free with
 * X509_free()). */
int x509_cert_issue(const struct x509_issue_spec *spec, EVP_PKEY *pubkey,
                    const X509 *issuer, EVP_PKEY *issuer_key, X509 **ret,
                    char **ret_why);

/* PEM encoding in memory. */

/* Each returns the PEM encoding of its object as a new NUL-terminated
 * string and stores its length (without the NUL) in '*ret_size'; the
 * caller frees it.  x509_key_to_pem() writes the key unencrypted in PKCS#8
 * form: the caller zeroes the result with memzero_explicit() before
 * freeing it. */
char *x509_cert_to_pem(const X509 *cert, size_t *ret_size);
char *x509_req_to_pem(const X509_REQ *req, size_t *ret_size);
char *x509_key_to_pem(const EVP_PKEY *key, size_t *ret_size);

#endif /* x509.h */
