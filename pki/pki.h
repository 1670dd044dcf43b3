/* SPDX-License-Identifier: Apache-2.0
 *
 * pki: what the ovsec-pki subcommands share.  ovsec-pki is a drop-in for
 * upstream Open vSwitch's ovs-pki: the same commands, options, directory
 * layout and file names, built on libcrypto (it never runs the openssl
 * program), with certificates made for IKE: subjectAltName DNS equal to
 * the CN on every path, random serial numbers, keyUsage and
 * extendedKeyUsage that strongSwan and Libreswan accept.
 *
 * Layout of a PKI directory (as made by upstream's "ovs-pki init"):
 *
 *     DIR/switchca/cacert.pem            CA certificate (public)
 *     DIR/switchca/private/cakey.pem     CA private key (0600)
 *     DIR/switchca/{ca.cnf,index.txt,serial,...}   for "openssl ca"
 *     DIR/controllerca/...               the same for controllers
 *
 * and in the current directory NAME-privkey.pem, NAME-req.pem and
 * NAME-cert.pem.
 *
 * Each subcommand is a function of type pki_command_func in its own file
 * cmd-<verb>.c; main.c parses the options into a struct pki_ctx and
 * dispatches through a table.  The helpers here print nothing except
 * where their comment says so; errors are returned as messages.
 */
#ifndef OVSEC_PKI_H
#define OVSEC_PKI_H 1

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>
#include "util.h"
#include "x509.h"

struct outfiles;

#define PKI_DIR_DEFAULT "/var/lib/openvswitch/pki"
#define PKI_LOG_NAME "ovsec-pki.log"

/* Validity of new certificates, in days: upstream's default for CAs,
 * signed and self-signed certificates alike, and the most --days takes. */
#define PKI_DAYS_DEFAULT 3650
#define PKI_DAYS_MAX 36500

/* RSA key sizes, in bits: upstream's default and minimum; the maximum
 * keeps key generation from running for hours. */
#define PKI_RSA_BITS_DEFAULT 3072
#define PKI_RSA_BITS_MIN 2048
#define PKI_RSA_BITS_MAX 16384

/* Longest CN (X.520 ub-common-name), and so longest NAME with -u.  Without
 * -u the CN is "NAME id:UUID", 40 characters longer. */
#define PKI_CN_MAX 64
#define PKI_CN_ID_SUFFIX_LEN 40

/* Why "-k dsa" and DSA keys in requests are refused. */
#define PKI_DSA_REFUSED                                                    \
    "DSA keys are not supported: RFC 8247 says IKEv2 SHOULD NOT use DSA, " \
    "FIPS 186-5 no longer approves it for signatures, and neither "      \
    "strongSwan nor Libreswan authenticates with it; use rsa, ec or "   \
    "ed25519"

/* The two certificate authorities of a PKI ("TYPE" on the command line). */
enum pki_ca_type {
    PKI_CA_SWITCH,              /* DIR/switchca, the default. */
    PKI_CA_CONTROLLER,          /* DIR/controllerca. */
    PKI_CA_N
};

/* Options and I/O of one run of ovsec-pki. */
struct pki_ctx {
    const char *command;        /* The subcommand, for the audit log. */
    const char *dir;            /* PKI directory (-d). */
    enum x509_key_type key_type;  /* Type of new keys (-k). */
    int bits;                   /* Size of new keys (-B), already checked
                                 * against 'key_type'; 0 for its default. */
    int days;                   /* Validity of new certificates (--days). */
    bool batch;                 /* -b: sign without confirming. */
    bool force;                 /* -f: overwrite existing files. */
    bool unique;                /* -u: CN is NAME, without "id:UUID". */
    bool interactive;           /* 'in' is a terminal we may ask. */
    mode_t umask;               /* Process umask, for public files. */
    FILE *in;                   /* Answers to questions. */
    FILE *out;                  /* Results and questions. */
    FILE *err;                  /* Progress notes and warnings. */
    FILE *log;                  /* Audit log (-l), or NULL for none. */
};

/* A subcommand.  'args' holds its 'n_args' arguments (already checked
 * against the command table).  Returns 0, or -errno with a message for
 * the user in '*ret_why' (the caller frees it). */
typedef int pki_command_func(struct pki_ctx *ctx, int n_args, char *args[],
                             char **ret_why);

pki_command_func cmd_init;
pki_command_func cmd_req;
pki_command_func cmd_sign;
pki_command_func cmd_req_sign;
pki_command_func cmd_self_sign;
pki_command_func cmd_verify;
pki_command_func cmd_fingerprint;
pki_command_func cmd_print;

/* Sets 'ctx' to the defaults of every option, with the standard streams;
 * 'interactive' is true if standard input is a terminal. */
void pki_ctx_init(struct pki_ctx *ctx);

/* Names. */

/* Checks 'name', the NAME argument of a command: it names files
 * NAME-privkey.pem etc. in the current directory and, for "req" and
 * "req+sign", goes into the CN.  It must be 1 to 64 characters of ASCII
 * letters, digits, '.', '_' and '-', starting with a letter or digit;
 * when 'in_cn' and not 'unique', at most 24, so that "NAME id:UUID" fits
 * in a CN.  Returns NULL if valid, else a message (the caller frees it). */
char *pki_check_name(const char *name, bool in_cn, bool unique);

/* Checks 'cn', the CN found in 'what' (a file name), for use as an IPsec
 * identity and as a subjectAltName DNS entry: 1 to 64 characters of ASCII
 * letters, digits, ' ', '.', '_', '-' and ':', starting with a letter or
 * digit and not ending in a space.  (',', '=', '+', '@', '/', quotes and
 * the like are refused: strongSwan and Libreswan would read such an
 * identity as a DN, an e-mail address or something else than the DNS
 * name in the certificate.)  Returns NULL or a message. */
char *pki_check_cn(const char *cn, const char *what);

/* Parses TYPE ('s' may be NULL for the default, switch) into '*type'.
 * Returns 0 or -EINVAL with a message. */
int pki_parse_ca_type(const char *s, enum pki_ca_type *type,
                      char **ret_why);

/* "switch" or "controller". */
const char *pki_ca_type_name(enum pki_ca_type);

/* Returns a new string "DIR/switchca" or "DIR/controllerca"; the caller
 * frees it. */
char *pki_ca_dir(const struct pki_ctx *ctx, enum pki_ca_type type);

/* Returns a new string "NAME-SUFFIX", e.g. "host1-cert.pem". */
char *pki_file_name(const char *name, const char *suffix);

/* Returns the subject name of an Open vSwitch PKI certificate, as
 * upstream's: C=US, ST=CA, L=Palo Alto, O=Open vSwitch, OU='ou', CN='cn'.
 * Free with X509_NAME_free().  'cn' must have passed pki_check_cn() or be
 * a CA name. */
X509_NAME *pki_subject_new(const char *ou, const char *cn);

/* Files and checks. */

/* Fails with -EEXIST and upstream's message if 'path' exists and
 * --force was not given. */
int pki_must_not_exist(const struct pki_ctx *ctx, const char *path,
                       char **ret_why);

/* Fails if the PKI directory does not exist or is not a directory, with a
 * message that suggests "init" or --dir. */
int pki_check_dir(const struct pki_ctx *ctx, char **ret_why);

/* Loads the certificate of the CA of 'type' and, if 'ret_key' is nonnull,
 * its private key, and checks that they belong together and that the
 * certificate may sign.  On success stores new objects in '*ret_cert'
 * and '*ret_key' (the caller frees them with X509_free() and
 * EVP_PKEY_free()). */
int pki_load_ca(const struct pki_ctx *ctx, enum pki_ca_type type,
                X509 **ret_cert, EVP_PKEY **ret_key, char **ret_why);

/* Checks that 'key' (from 'what') is of a type and size that IKE peers
 * accept and that ovsec-pki makes: RSA of at least 2048 bits, ECDSA on
 * P-256, P-384 or P-521, Ed25519 or Ed448.  DSA and others are refused
 * with the reason.  Returns 0 or -EINVAL with a message. */
int pki_check_key(const EVP_PKEY *key, const char *what, char **ret_why);

/* Generates a new private key of the type and size in 'ctx'. */
int pki_generate_key(const struct pki_ctx *ctx, EVP_PKEY **ret,
                     char **ret_why);

/* Loads the request in file 'path' and checks it for signing: its
 * signature, its key (pki_check_key()) and its CN (pki_check_cn()).  On
 * success stores the request in '*ret_req' and its CN in '*ret_cn' (the
 * caller frees them). */
int pki_load_req(const char *path, X509_REQ **ret_req, char **ret_cn,
                 char **ret_why);

/* Issues a certificate for request 'req' (already checked, with CN 'cn'):
 * its subject, subjectAltName DNS 'cn' and, unless 'issuer' is NULL (a
 * self-signed end entity), signed by 'issuer' and 'issuer_key'; for a
 * self-signed one 'issuer_key' is the requester's own key.  Any extension
 * the request asks for is ignored.  Validity from ctx->days. */
int pki_issue(const struct pki_ctx *ctx, X509_REQ *req, const char *cn,
              const X509 *issuer, EVP_PKEY *issuer_key, X509 **ret,
              char **ret_why);

/* Adds 'cert' to 'of' as a PEM file at 'path' (mode 0644 less the
 * umask). */
int pki_stage_cert(const struct pki_ctx *ctx, struct outfiles *of,
                   const char *path, const X509 *cert, char **ret_why);

/* Adds 'key' to 'of' as an unencrypted PKCS#8 PEM file at 'path', mode
 * 0600. */
int pki_stage_key(struct outfiles *of, const char *path,
                  const EVP_PKEY *key, char **ret_why);

/* Records 'cert', just issued by the CA in directory 'ca_dir', in that
 * CA's OpenSSL database as "openssl ca" would (a line in index.txt and a
 * copy in newcerts/SERIAL.pem), so that "openssl ca -revoke" and
 * "-gencrl" know it.  A CA directory without index.txt is left alone.
 * Failures are warnings on ctx->err: the certificate itself is made. */
void pki_record_issued(const struct pki_ctx *ctx, const char *ca_dir,
                       const X509 *cert);

/* Makes a new key and a request for NAME (already checked with
 * pki_check_name()), with CN "NAME" (-u) or "NAME id:UUID", and a
 * subjectAltName DNS entry equal to the CN, and adds NAME-privkey.pem and
 * NAME-req.pem to 'of'.  On success stores the new request and CN in
 * '*ret_req' and '*ret_cn' (the caller frees them).  In cmd-req.c. */
int pki_make_request(const struct pki_ctx *ctx, const char *name,
                     struct outfiles *of, X509_REQ **ret_req, char **ret_cn,
                     char **ret_why);

/* Output. */

/* Prints the fingerprint of file 'path' to ctx->out in upstream's form:
 *
 *     PATH<TAB>DATE
 *     <TAB>fingerprint SHA1HEX
 *
 * where SHA1HEX is the SHA-1 of the DER certificate (in uppercase) if the
 * file holds one, else of the whole file (lowercase): what upstream's
 * ovs-pki prints, so that both tools' fingerprints can be compared.  Then
 * comes the stronger
 *
 *     <TAB>sha256 SHA256HEX
 *
 * computed the same way.  Returns 0 or -errno with a message. */
int pki_print_fingerprint(const struct pki_ctx *ctx, const char *path,
                          char **ret_why);

/* Appends a line "TIME COMMAND: TEXT" to the audit log, if any.  Never
 * give it secrets. */
void pki_log(const struct pki_ctx *ctx, const char *format, ...)
    PRINTF_FORMAT(2, 3);

#endif /* pki.h */
