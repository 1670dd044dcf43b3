/* SPDX-License-Identifier: Apache-2.0
 *
 * ovsec-pki init: creates a PKI directory with two certificate
 * authorities, controllerca and switchca, in upstream's layout.  Besides
 * cacert.pem and private/cakey.pem, each CA directory gets what OpenSSL's
 * "openssl ca" needs (ca.cnf, index.txt, serial, ...), so that upstream's
 * ovs-pki can sign with a PKI made here.
 */
#include "config.h"
#define OPENSSL_API_COMPAT 30000
#include "pki.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include "ds.h"
#include "outfiles.h"

/* Creates directory 'path' with 'mode' unless it exists. */
static int
make_dir__(const char *path, mode_t mode, char **ret_why)
{
    struct stat st;

    if (!mkdir(path, mode)) {
        return 0;
    } else if (errno == EEXIST && !stat(path, &st) && S_ISDIR(st.st_mode)) {
        return 0;
    } else {
        int error = -errno;
        *ret_why = xasprintf("%s: cannot create directory: %s", path,
                             ovsec_strerror(error));
        return error;
    }
}

/* Creates 'dir' and its missing parents, like "mkdir -p". */
static int
make_dirs__(const char *dir, char **ret_why)
{
    char *copy = xstrdup(dir);
    int error = 0;

    for (char *p = copy + 1; !error && *p; p++) {
        if (*p == '/') {
            *p = '\0';
            error = make_dir__(copy, 0755, ret_why);
            *p = '/';
        }
    }
    if (!error) {
        error = make_dir__(copy, 0755, ret_why);
    }
    free(copy);
    return error;
}

/* Writes 'text' to 'dir'/'name' (mode 0644 less the umask) unless the file
 * exists: "openssl ca" keeps its state in these files, and a re-run of
 * init with --force must not reset it. */
static int
make_file__(const struct pki_ctx *ctx, const char *dir, const char *name,
            const char *text, char **ret_why)
{
    char *path = xasprintf("%s/%s", dir, name);
    struct outfiles *of = outfiles_create();
    struct stat st;
    int error = 0;

    if (lstat(path, &st)) {
        error = outfiles_add(of, path, text, strlen(text),
                             0644 & ~ctx->umask, ret_why);
        if (!error) {
            error = outfiles_commit(of, false, ret_why);
        }
        if (error == -EEXIST) {
            /* Made meanwhile by someone else: keep theirs. */
            free(*ret_why);
            *ret_why = NULL;
            error = 0;
        }
    }
    outfiles_destroy(of);
    free(path);
    return error;
}

/* Returns the configuration for "openssl ca" of the CA 'ca' (e.g.
 * "switchca"), whose certificate has subject CN 'cn'.  ovsec-pki does not
 * read it.  The section and option names are the ones upstream's ovs-pki
 * uses on the openssl command line; the extensions match what ovsec-pki
 * itself puts in certificates. */
static char *
ca_cnf__(const char *ca, const char *cn, int days)
{
    struct ds s = DS_EMPTY_INITIALIZER;

    ds_put_format(&s,
        "# Configuration of the %s certificate authority for \"openssl ca\",\n"
        "# written by ovsec-pki init.  ovsec-pki does not read this file; it\n"
        "# lets OpenSSL's tools (and upstream's ovs-pki) use this CA too.\n"
        "\n"
        "[ req ]\n"
        "prompt = no\n"
        "distinguished_name = req_distinguished_name\n"
        "\n"
        "[ req_distinguished_name ]\n"
        "C = US\n"
        "ST = CA\n"
        "L = Palo Alto\n"
        "O = Open vSwitch\n"
        "OU = %s\n"
        "CN = %s\n"
        "\n"
        "[ ca ]\n"
        "default_ca = the_ca\n"
        "\n"
        "[ the_ca ]\n"
        "dir = .\n"
        "database = $dir/index.txt\n"
        "new_certs_dir = $dir/newcerts\n"
        "certificate = $dir/cacert.pem\n"
        "serial = $dir/serial\n"
        "private_key = $dir/private/cakey.pem\n"
        "default_days = %d\n"
        "default_crl_days = 30\n"
        "default_md = sha256\n"
        "policy = policy\n"
        "email_in_dn = no\n"
        "name_opt = ca_default\n"
        "cert_opt = ca_default\n"
        "copy_extensions = copy\n"
        "unique_subject = no\n"
        "\n"
        "[ policy ]\n"
        "countryName = optional\n"
        "stateOrProvinceName = optional\n"
        "organizationName = match\n"
        "organizationalUnitName = optional\n"
        "commonName = supplied\n"
        "emailAddress = optional\n"
        "\n"
        "[ ca_cert ]\n"
        "basicConstraints = critical, CA:true, pathlen:0\n"
        "keyUsage = critical, keyCertSign, cRLSign\n"
        "subjectKeyIdentifier = hash\n"
        "authorityKeyIdentifier = keyid:always\n"
        "\n"
        "[ usr_cert ]\n"
        "basicConstraints = critical, CA:false\n"
        "keyUsage = critical, digitalSignature, keyEncipherment\n"
        "extendedKeyUsage = serverAuth, clientAuth, ipsecIKE\n"
        "subjectKeyIdentifier = hash\n"
        "authorityKeyIdentifier = keyid:always\n",
        ca, ca, cn, days);
    return ds_steal_cstr(&s);
}

/* Creates (or, with --force, replaces) the CA of 'type', with 'date' in
 * its CN as upstream does, so that two PKIs' CAs have different names. */
static int
init_ca__(struct pki_ctx *ctx, enum pki_ca_type type, const char *date,
          char **ret_why)
{
    char *ca_dir = pki_ca_dir(ctx, type);
    char *ca = xasprintf("%sca", pki_ca_type_name(type));
    char *cn = xasprintf("OVS %s CA Certificate (%s)", ca, date);
    char *cnf = ca_cnf__(ca, cn, ctx->days);
    struct outfiles *of = outfiles_create();
    struct x509_issue_spec spec;
    X509_NAME *subject = NULL;
    X509_REQ *req = NULL;
    EVP_PKEY *key = NULL;
    X509 *cert = NULL;
    char *path = NULL;
    char *req_pem;
    size_t req_size;
    char *desc;
    int error;
    static const struct {
        const char *name;
        mode_t mode;
    } dirs[] = {
        { "", 0755 },
        { "/certs", 0755 },
        { "/crl", 0755 },
        { "/newcerts", 0755 },
        { "/private", 0700 },
    };

    fprintf(ctx->err, "Creating %s...\n", ca);
    for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
        free(path);
        path = xasprintf("%s%s", ca_dir, dirs[i].name);
        error = make_dir__(path, dirs[i].mode, ret_why);
        if (error) {
            goto out;
        }
    }
    const char *const files[][2] = {
        { "index.txt", "" },
        { "index.txt.attr", "unique_subject = no\n" },
        { "crlnumber", "01\n" },
        { "serial", "01\n" },
        { "ca.cnf", cnf },
    };
    for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
        error = make_file__(ctx, ca_dir, files[i][0], files[i][1], ret_why);
        if (error) {
            goto out;
        }
    }

    error = pki_generate_key(ctx, &key, ret_why);
    if (error) {
        goto out;
    }
    subject = pki_subject_new(ca, cn);
    error = x509_req_create(subject, NULL, key, &req, ret_why);
    if (error) {
        goto out;
    }

    spec = (struct x509_issue_spec) {
        .subject = subject,
        .dns = NULL,
        .days = ctx->days,
        .ca = true,
    };
    error = x509_cert_issue(&spec, key, NULL, key, &cert, ret_why);
    if (error) {
        goto out;
    }

    /* The key and the certificate are moved into place together, so that
     * a failure never leaves a key with another key's certificate. */
    req_pem = x509_req_to_pem(req, &req_size);
    free(path);
    path = xasprintf("%s/careq.pem", ca_dir);
    error = outfiles_add(of, path, req_pem, req_size, 0644 & ~ctx->umask,
                         ret_why);
    free(req_pem);
    if (error) {
        goto out;
    }
    free(path);
    path = xasprintf("%s/private/cakey.pem", ca_dir);
    error = pki_stage_key(of, path, key, ret_why);
    if (error) {
        goto out;
    }
    free(path);
    path = xasprintf("%s/cacert.pem", ca_dir);
    error = pki_stage_cert(ctx, of, path, cert, ret_why);
    if (error) {
        goto out;
    }
    error = outfiles_commit(of, ctx->force, ret_why);
    if (error) {
        goto out;
    }
    pki_record_issued(ctx, ca_dir, cert);

    desc = x509_key_describe(key);
    pki_log(ctx, "created %s: CN \"%s\", %s, %d days", ca_dir, cn, desc,
            ctx->days);
    free(desc);

out:
    outfiles_destroy(of);
    free(path);
    X509_free(cert);
    X509_REQ_free(req);
    X509_NAME_free(subject);
    EVP_PKEY_free(key);
    free(cnf);
    free(cn);
    free(ca);
    free(ca_dir);
    return error;
}

int
cmd_init(struct pki_ctx *ctx, int n_args OVS_UNUSED__,
         char *args[] OVS_UNUSED__, char **ret_why)
{
    char date[64];
    struct stat st;
    struct tm tm;
    time_t now;
    int error;

    *ret_why = NULL;
    if (!ctx->force && !lstat(ctx->dir, &st)) {
        *ret_why = xasprintf("%s already exists and --force not specified",
                             ctx->dir);
        return -EEXIST;
    }
    error = make_dirs__(ctx->dir, ret_why);
    if (error) {
        return error;
    }

    /* Upstream's date format, in the C locale's words. */
    now = time(NULL);
    localtime_r(&now, &tm);
    strftime(date, sizeof date, "%Y %b %d %H:%M:%S", &tm);

    error = init_ca__(ctx, PKI_CA_CONTROLLER, date, ret_why);
    if (!error) {
        error = init_ca__(ctx, PKI_CA_SWITCH, date, ret_why);
    }
    return error;
}
