/* SPDX-License-Identifier: Apache-2.0
 *
 * libreswan-nss: see libreswan-nss.h.
 *
 * NSS facts the steps rely on (NSS 3.87, certutil and pk12util):
 *  - `certutil -A -n NICK` of a certificate whose subject differs from
 *    the one already under NICK fails (SEC_ERROR_ADDING_CERT), so a
 *    changed certificate is deleted before it is imported.
 *  - `certutil -L -a -n NICK` prints every certificate under NICK, and
 *    fails with "Could not find cert" when there is none.
 *  - `certutil -D` deletes one certificate and leaves its private key;
 *    `certutil -F` deletes the key and its certificate, and fails on an
 *    entry without a key.  Entries with a key list "u" in their trust.
 */
#include "config.h"
/* Only OpenSSL 3 interfaces: older deprecated ones are not declared. */
#define OPENSSL_API_COMPAT 30000
#include "libreswan-nss.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <openssl/pkcs12.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include "ds.h"
#include "hmap.h"
#include "list.h"
#include "log.h"
#include "loop.h"
#include "process.h"
#include "secret.h"
#include "util.h"
#include "x509.h"

LOG_MODULE(libreswan_nss);

#define NSS_CERT_PREFIX "ovs_cert_"
#define NSS_CERTKEY_PREFIX "ovs_certkey_"
/* Deletions of one wanted nickname within one sync: NSS lists each copy,
 * so more than this means the deletions do not work. */
#define MAX_DELETES 8
/* Longest stderr excerpt kept in a message. */
#define WHY_MAX 200

/* One wanted entry. */
struct nss_want {
    struct hmap_node node;          /* In 'wants', by 'nickname'. */
    char *nickname;
    char *cert_pem;
    struct secret *key_pem;         /* NULL: certificate only. */
    char *trust;
    uint8_t digest[X509_DIGEST_SIZE];   /* Of the certificate's DER. */
    bool digest_ok;                 /* 'cert_pem' parsed. */
    bool verified;                  /* The database holds exactly it. */
    char *error;                    /* Why the last sync failed it. */

    /* Within the running sync. */
    unsigned int listed;            /* Copies `certutil -L` listed. */
    bool listed_key;                /* One of them has a private key. */
    unsigned int n_deletes;         /* Deletions so far. */
};

enum nss_step_kind {
    STEP_LIST,                      /* certutil -L */
    STEP_DELETE_STALE,              /* certutil -F/-D of an unwanted one */
    STEP_CHECK,                     /* certutil -L -a -n NICK */
    STEP_DELETE,                    /* certutil -F/-D of a wanted one */
    STEP_IMPORT,                    /* certutil -A or pk12util -i */
};

struct nss_step {
    struct ovs_list node;           /* In 'steps'. */
    enum nss_step_kind kind;
    char *nickname;                 /* NULL for STEP_LIST. */
    bool with_key;                  /* Deletions: use -F. */
};

struct libreswan_nss {
    char *db;                       /* "sql:DIR". */
    long long int timeout_ms;       /* Per child. */
    struct hmap wants;              /* "struct nss_want"s by nickname. */

    uint64_t req_gen;               /* Last generation requested. */
    uint64_t run_gen;               /* Generation of the running sync. */
    uint64_t done_gen;              /* Last generation finished. */
    bool running;

    struct ovs_list steps;          /* "struct nss_step"s still to do. */
    struct nss_step *cur;           /* Step whose child runs, or NULL. */
    struct process *proc;           /* Its child. */
    char *tmpdir;                   /* Private directory, or NULL. */
    char *p12_path;                 /* Files of an import in flight. */
    char *pw_path;

    char *run_error;                /* Sync-wide error so far. */
    char *error;                    /* Of the last finished sync. */
    char *stale_error;              /* Last failure to delete a stale
                                     * entry (does not fail anything). */
    uint64_t n_imports, n_deletes;  /* Counters. */
    struct hmap imported;           /* "struct nss_imported"s by nickname:
                                     * entries imported since creation. */
};

/* A nickname libreswan_nss_imported() answers true for. */
struct nss_imported {
    struct hmap_node node;
    char *nickname;
};

static struct nss_imported *
imported_find__(const struct libreswan_nss *nss, const char *nickname)
{
    struct nss_imported *e;

    HMAP_FOR_EACH_WITH_HASH (e, node, hash_string(nickname, 0),
                             &nss->imported) {
        if (!strcmp(e->nickname, nickname)) {
            return e;
        }
    }
    return NULL;
}

bool
libreswan_nss_imported(const struct libreswan_nss *nss, const char *nickname)
{
    return nss && nickname && imported_find__(nss, nickname);
}

/* Wanted entries. */

static struct nss_want *
want_find__(const struct libreswan_nss *nss, const char *nickname)
{
    struct nss_want *w;

    HMAP_FOR_EACH_WITH_HASH (w, node, hash_string(nickname, 0),
                             &nss->wants) {
        if (!strcmp(w->nickname, nickname)) {
            return w;
        }
    }
    return NULL;
}

static void
want_destroy__(struct nss_want *w)
{
    if (w) {
        free(w->nickname);
        free(w->cert_pem);
        secret_destroy(w->key_pem);
        free(w->trust);
        free(w->error);
        free(w);
    }
}

static bool
is_ours__(const char *nickname)
{
    return (str_starts_with(nickname, NSS_CERT_PREFIX)
            || str_starts_with(nickname, NSS_CERTKEY_PREFIX));
}

/* Stores the SHA-256 of the DER of the certificate in 'pem' in 'digest'.
 * Returns true on success. */
static bool
pem_digest__(const char *pem, uint8_t digest[X509_DIGEST_SIZE])
{
    X509 *cert = NULL;
    char *why = NULL;
    bool ok;

    ok = (!x509_cert_from_pem(pem, strlen(pem), "certificate", &cert, &why)
          && !x509_cert_fingerprint(cert, digest));
    X509_free(cert);
    free(why);
    return ok;
}

/* Lifecycle. */

struct libreswan_nss *
libreswan_nss_create(const char *db, long long int timeout_ms)
{
    struct libreswan_nss *nss = xzalloc(sizeof *nss);

    nss->db = xstrdup(db);
    nss->timeout_ms = timeout_ms;
    hmap_init(&nss->wants);
    hmap_init(&nss->imported);
    ovs_list_init(&nss->steps);
    return nss;
}

static void
step_destroy__(struct nss_step *s)
{
    if (s) {
        free(s->nickname);
        free(s);
    }
}

static void
import_files_remove__(struct libreswan_nss *nss)
{
    if (nss->p12_path) {
        unlink(nss->p12_path);
        free(nss->p12_path);
        nss->p12_path = NULL;
    }
    if (nss->pw_path) {
        unlink(nss->pw_path);
        free(nss->pw_path);
        nss->pw_path = NULL;
    }
}

void
libreswan_nss_destroy(struct libreswan_nss *nss)
{
    struct nss_want *w, *next;
    struct nss_step *s;

    if (!nss) {
        return;
    }
    process_destroy(nss->proc);
    step_destroy__(nss->cur);
    LIST_FOR_EACH_POP (s, node, &nss->steps) {
        step_destroy__(s);
    }
    import_files_remove__(nss);
    if (nss->tmpdir) {
        rmdir(nss->tmpdir);
        free(nss->tmpdir);
    }
    HMAP_FOR_EACH_SAFE (w, next, node, &nss->wants) {
        hmap_remove(&nss->wants, &w->node);
        want_destroy__(w);
    }
    hmap_destroy(&nss->wants);
    struct nss_imported *e, *next_e;
    HMAP_FOR_EACH_SAFE (e, next_e, node, &nss->imported) {
        hmap_remove(&nss->imported, &e->node);
        free(e->nickname);
        free(e);
    }
    hmap_destroy(&nss->imported);
    free(nss->db);
    free(nss->run_error);
    free(nss->error);
    free(nss->stale_error);
    free(nss);
}

static bool
want_equal__(const struct nss_want *w, const struct libreswan_nss_entry *e)
{
    return (!strcmp(w->cert_pem, e->cert_pem)
            && nullable_string_equal(w->trust, e->trust)
            && secret_equal(w->key_pem, e->key_pem));
}

uint64_t
libreswan_nss_set(struct libreswan_nss *nss,
                  const struct libreswan_nss_entry *entries, size_t n)
{
    struct nss_want *w, *next;
    struct hmap wants;
    bool changed = false;

    hmap_init(&wants);
    for (size_t i = 0; i < n; i++) {
        const struct libreswan_nss_entry *e = &entries[i];
        struct nss_want *old = want_find__(nss, e->nickname);

        if (old && want_equal__(old, e)) {
            hmap_remove(&nss->wants, &old->node);
            w = old;
        } else {
            changed = true;
            if (old) {
                hmap_remove(&nss->wants, &old->node);
                want_destroy__(old);
            }
            w = xzalloc(sizeof *w);
            w->nickname = xstrdup(e->nickname);
            w->cert_pem = xstrdup(e->cert_pem);
            w->key_pem = secret_clone(e->key_pem);
            w->trust = nullable_xstrdup(e->trust);
            w->digest_ok = pem_digest__(e->cert_pem, w->digest);
        }
        hmap_insert(&wants, &w->node, hash_string(w->nickname, 0));
    }
    /* What is left was dropped from the set. */
    HMAP_FOR_EACH_SAFE (w, next, node, &nss->wants) {
        changed = true;
        hmap_remove(&nss->wants, &w->node);
        want_destroy__(w);
    }
    hmap_destroy(&nss->wants);
    nss->wants = wants;         /* Moves the bucket array. */

    if (changed || !nss->req_gen) {
        nss->req_gen++;
    }
    return nss->req_gen;
}

uint64_t
libreswan_nss_check(struct libreswan_nss *nss)
{
    struct nss_want *w;

    HMAP_FOR_EACH (w, node, &nss->wants) {
        w->verified = false;
    }
    return ++nss->req_gen;
}

/* Steps. */

static void
push_step__(struct libreswan_nss *nss, enum nss_step_kind kind,
            const char *nickname, bool with_key, bool front)
{
    struct nss_step *s = xzalloc(sizeof *s);

    s->kind = kind;
    s->nickname = nullable_xstrdup(nickname);
    s->with_key = with_key;
    if (front) {
        ovs_list_push_front(&nss->steps, &s->node);
    } else {
        ovs_list_push_back(&nss->steps, &s->node);
    }
}

/* Returns a new message "WHAT: OUTCOME: STDERR" about the finished child
 * 'p', with the first line of its stderr (or stdout) in printable
 * ASCII. */
static char *
proc_why__(const struct process *p, const char *what)
{
    const char *err = process_stderr(p, NULL);
    char *status = process_status_msg(p);
    struct ds out = DS_EMPTY_INITIALIZER;

    if (!err || !*err) {
        err = process_stdout(p, NULL);
    }
    ds_put_format(&out, "%s: %s", what, status);
    while (err && (*err == '\n' || *err == ' ')) {
        err++;
    }
    if (err && *err) {
        ds_put_cstr(&out, ": ");
        for (size_t i = 0; err[i] && err[i] != '\n' && i < WHY_MAX; i++) {
            unsigned char c = err[i];
            ds_put_char(&out, c >= 0x20 && c < 0x7f ? c : '?');
        }
    }
    free(status);
    return ds_steal_cstr(&out);
}

static void
set_error__(char **dst, char *msg)
{
    free(*dst);
    *dst = msg;
}

static void
want_fail__(struct nss_want *w, char *msg)
{
    LOG_DBG("%s: %s", w->nickname, msg);
    if (!w->error) {
        w->error = msg;
    } else {
        free(msg);
    }
}

/* Makes the private directory for import files.  Returns 0 or -errno. */
static int
tmpdir_get__(struct libreswan_nss *nss)
{
    if (!nss->tmpdir) {
        const char *base = getenv("TMPDIR");
        char *tmpl = xasprintf("%s/ovsec-nss.XXXXXX",
                               base && *base == '/' ? base : "/tmp");
        if (!mkdtemp(tmpl)) {
            int error = -errno;
            free(tmpl);
            return error;
        }
        nss->tmpdir = tmpl;
    }
    return 0;
}

/* Writes 'size' bytes at 'data' to a new file 'path' with mode 0600.
 * Returns 0 or -errno. */
static int
write_private__(const char *path, const void *data, size_t size)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
                  0600);
    const char *p = data;
    int error = 0;

    if (fd < 0) {
        return -errno;
    }
    while (size) {
        ssize_t n = write(fd, p, size);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            error = -errno;
            break;
        }
        p += n;
        size -= n;
    }
    if (close(fd) && !error) {
        error = -errno;
    }
    if (error) {
        unlink(path);
    }
    return error;
}

/* Makes the PKCS#12 file of 'w' (its certificate and key under its
 * nickname) and a file holding its one-time password, in the private
 * directory.  Returns NULL or a new error message. */
static char *
make_p12__(struct libreswan_nss *nss, const struct nss_want *w)
{
    uint8_t raw[16];
    char pw[sizeof raw * 2 + 2];
    size_t key_size;
    const char *key_data = secret_bytes(w->key_pem, &key_size);
    EVP_PKEY *key = NULL;
    X509 *cert = NULL;
    PKCS12 *p12 = NULL;
    unsigned char *der = NULL;
    char *why = NULL;
    char *msg = NULL;
    int der_size = 0;
    int error;

    error = tmpdir_get__(nss);
    if (error) {
        return xasprintf("cannot make a private temporary directory: %s",
                         ovsec_strerror(error));
    }
    if (RAND_bytes(raw, sizeof raw) != 1) {
        return x509_why_openssl("random password");
    }
    for (size_t i = 0; i < sizeof raw; i++) {
        snprintf(&pw[i * 2], 3, "%02x", raw[i]);
    }
    if (x509_cert_from_pem(w->cert_pem, strlen(w->cert_pem), "certificate",
                           &cert, &why)
        || x509_key_from_pem(key_data, key_size, "private key", &key,
                             &why)) {
        msg = why;
        why = NULL;
        goto out;
    }
    p12 = PKCS12_create(pw, w->nickname, key, cert, NULL, 0, 0, 0, 0, 0);
    if (!p12) {
        msg = x509_why_openssl("PKCS12_create");
        goto out;
    }
    der_size = i2d_PKCS12(p12, &der);
    if (der_size <= 0) {
        msg = x509_why_openssl("i2d_PKCS12");
        goto out;
    }

    import_files_remove__(nss);
    nss->p12_path = xasprintf("%s/key.p12", nss->tmpdir);
    nss->pw_path = xasprintf("%s/key.pw", nss->tmpdir);
    pw[sizeof raw * 2] = '\n';
    pw[sizeof raw * 2 + 1] = '\0';
    error = write_private__(nss->p12_path, der, der_size);
    if (!error) {
        error = write_private__(nss->pw_path, pw, strlen(pw));
    }
    if (error) {
        msg = xasprintf("cannot write a temporary file in %s: %s",
                        nss->tmpdir, ovsec_strerror(error));
        import_files_remove__(nss);
    }

out:
    if (der) {
        memzero_explicit(der, der_size);
        OPENSSL_free(der);
    }
    memzero_explicit(pw, sizeof pw);
    PKCS12_free(p12);
    EVP_PKEY_free(key);
    X509_free(cert);
    free(why);
    return msg;
}

/* Starts the child of step 's'.  Returns 0, or -errno with a message in
 * '*ret_why' (a new string). */
static int
start_step__(struct libreswan_nss *nss, struct nss_step *s, char **ret_why)
{
    const char *argv[16];
    size_t n = 0;
    struct process_options po = {
        .argv = argv,
        .timeout_ms = nss->timeout_ms,
    };
    struct nss_want *w = s->nickname ? want_find__(nss, s->nickname) : NULL;
    int error;

    *ret_why = NULL;
    switch (s->kind) {
    case STEP_LIST:
        argv[n++] = "certutil";
        argv[n++] = "-L";
        argv[n++] = "-d";
        argv[n++] = nss->db;
        break;
    case STEP_CHECK:
        argv[n++] = "certutil";
        argv[n++] = "-L";
        argv[n++] = "-a";
        argv[n++] = "-d";
        argv[n++] = nss->db;
        argv[n++] = "-n";
        argv[n++] = s->nickname;
        break;
    case STEP_DELETE:
    case STEP_DELETE_STALE:
        argv[n++] = "certutil";
        argv[n++] = s->with_key ? "-F" : "-D";
        argv[n++] = "-d";
        argv[n++] = nss->db;
        argv[n++] = "-n";
        argv[n++] = s->nickname;
        nss->n_deletes++;
        break;
    case STEP_IMPORT:
        if (!w) {
            return -ENOENT;
        }
        nss->n_imports++;
        if (w->key_pem) {
            *ret_why = make_p12__(nss, w);
            if (*ret_why) {
                return -EINVAL;
            }
            argv[n++] = "pk12util";
            argv[n++] = "-i";
            argv[n++] = nss->p12_path;
            argv[n++] = "-d";
            argv[n++] = nss->db;
            argv[n++] = "-w";
            argv[n++] = nss->pw_path;
        } else {
            argv[n++] = "certutil";
            argv[n++] = "-A";
            argv[n++] = "-a";
            argv[n++] = "-d";
            argv[n++] = nss->db;
            argv[n++] = "-n";
            argv[n++] = s->nickname;
            argv[n++] = "-t";
            argv[n++] = w->trust ? w->trust : ",,";
            po.stdin_data = w->cert_pem;
            po.stdin_size = strlen(w->cert_pem);
        }
        break;
    default:
        return -EINVAL;
    }
    argv[n] = NULL;

    LOG_DBG("running %s %s %s", argv[0], argv[1],
            s->nickname ? s->nickname : nss->db);
    error = process_start(&po, &nss->proc);
    if (error) {
        *ret_why = xasprintf("cannot run %s: %s", argv[0],
                             ovsec_strerror(error));
        import_files_remove__(nss);
    }
    return error;
}

/* `certutil -L` answered: plan the rest of the sync. */
struct list_ctx {
    struct libreswan_nss *nss;
};

static void
list_item__(void *ctx_, const char *nickname, const char *trust)
{
    struct list_ctx *ctx = ctx_;
    struct libreswan_nss *nss = ctx->nss;
    bool has_key = strchr(trust, 'u') != NULL;
    struct nss_want *w;

    if (!is_ours__(nickname)) {
        return;
    }
    w = want_find__(nss, nickname);
    if (w) {
        w->listed++;
        w->listed_key |= has_key;
    } else {
        push_step__(nss, STEP_DELETE_STALE, nickname, has_key, false);
    }
}

static void
listed__(struct libreswan_nss *nss, const char *text)
{
    struct list_ctx ctx = { nss };
    struct nss_want *w;

    libreswan_nss_parse_list(text, list_item__, &ctx);
    HMAP_FOR_EACH (w, node, &nss->wants) {
        if (!w->digest_ok) {
            want_fail__(w, xstrdup("the certificate cannot be parsed"));
        } else if (!w->listed) {
            push_step__(nss, STEP_IMPORT, w->nickname, false, false);
        } else if (w->listed == 1 && w->verified
                   && (!w->key_pem || w->listed_key)) {
            /* In place since we put or saw it there. */
        } else {
            w->verified = false;
            push_step__(nss, STEP_CHECK, w->nickname, false, false);
        }
    }
}

/* `certutil -L -a -n NICK` answered with 'text': keep, or delete and
 * import. */
static void
checked__(struct libreswan_nss *nss, struct nss_want *w, const char *text,
          size_t size)
{
    X509 **certs = NULL;
    size_t n = 0;
    char *why = NULL;
    bool same = false;

    if (!x509_certs_from_pem(text, size, w->nickname, &certs, &n, &why)
        && n == 1) {
        uint8_t digest[X509_DIGEST_SIZE];
        same = (!x509_cert_fingerprint(certs[0], digest)
                && !memcmp(digest, w->digest, sizeof digest));
    }
    x509_certs_free(certs, n);
    free(why);

    if (same && (!w->key_pem || w->listed_key)) {
        w->verified = true;
    } else if (w->n_deletes >= MAX_DELETES) {
        want_fail__(w, xasprintf("still in the NSS database after %d "
                                 "deletions", MAX_DELETES));
    } else {
        LOG_DBG("%s: NSS holds %zu other certificate%s, replacing",
                w->nickname, n, n == 1 ? "" : "s");
        w->n_deletes++;
        /* Check again afterwards: NSS may hold more than one copy. */
        push_step__(nss, STEP_CHECK, w->nickname, false, true);
        push_step__(nss, STEP_DELETE, w->nickname, w->listed_key, true);
    }
}

/* The child of the current step finished. */
static void
step_done__(struct libreswan_nss *nss)
{
    struct nss_step *s = nss->cur;
    struct process *p = nss->proc;
    struct nss_want *w = s->nickname ? want_find__(nss, s->nickname) : NULL;
    bool ok = process_succeeded(p);
    size_t out_size;
    const char *out = process_stdout(p, &out_size);
    const char *err = process_stderr(p, NULL);

    switch (s->kind) {
    case STEP_LIST:
        if (ok && !process_output_truncated(p)) {
            listed__(nss, out);
        } else {
            set_error__(&nss->run_error,
                        proc_why__(p, "certutil -L (listing the NSS "
                                   "database)"));
        }
        break;
    case STEP_CHECK:
        if (!w) {
            break;
        }
        if (ok) {
            checked__(nss, w, out, out_size);
        } else if (err && strstr(err, "Could not find")) {
            push_step__(nss, STEP_IMPORT, w->nickname, false, true);
        } else {
            want_fail__(w, proc_why__(p, "certutil -L -a"));
        }
        break;
    case STEP_DELETE:
    case STEP_DELETE_STALE:
        if (!ok && s->with_key) {
            /* -F wants a key: this copy has none. */
            push_step__(nss, s->kind, s->nickname, false, true);
        } else if (!ok && s->kind == STEP_DELETE_STALE) {
            set_error__(&nss->stale_error,
                        proc_why__(p, "certutil -D (a stale entry)"));
        } else if (!ok && w) {
            want_fail__(w, proc_why__(p, "certutil -D"));
        } else if (s->kind == STEP_DELETE_STALE) {
            LOG_DBG("%s: removed stale entry from the NSS database",
                    s->nickname);
        }
        break;
    case STEP_IMPORT:
        import_files_remove__(nss);
        if (!w) {
            break;
        }
        if (ok) {
            w->verified = true;
            if (!imported_find__(nss, w->nickname)) {
                struct nss_imported *e = xzalloc(sizeof *e);
                e->nickname = xstrdup(w->nickname);
                hmap_insert(&nss->imported, &e->node,
                            hash_string(e->nickname, 0));
            }
        } else {
            want_fail__(w, proc_why__(p, w->key_pem ? "pk12util -i"
                                                    : "certutil -A"));
        }
        break;
    default:
        break;
    }

    process_destroy(p);
    nss->proc = NULL;
    step_destroy__(s);
    nss->cur = NULL;
}

static void
sync_finish__(struct libreswan_nss *nss)
{
    struct nss_want *w;

    if (nss->run_error) {
        HMAP_FOR_EACH (w, node, &nss->wants) {
            if (!w->error) {
                w->error = xstrdup(nss->run_error);
            }
        }
    }
    free(nss->error);
    nss->error = nss->run_error;
    nss->run_error = NULL;
    nss->done_gen = nss->run_gen;
    nss->running = false;
    LOG_DBG("NSS sync %"PRIu64" done%s%s", nss->done_gen,
            nss->error ? ": " : "", nss->error ? nss->error : "");
}

static void
sync_start__(struct libreswan_nss *nss)
{
    struct nss_want *w;

    nss->running = true;
    nss->run_gen = nss->req_gen;
    free(nss->run_error);
    nss->run_error = NULL;
    HMAP_FOR_EACH (w, node, &nss->wants) {
        free(w->error);
        w->error = NULL;
        w->listed = 0;
        w->listed_key = false;
        w->n_deletes = 0;
    }
    push_step__(nss, STEP_LIST, NULL, false, false);
}

void
libreswan_nss_run(struct libreswan_nss *nss)
{
    for (;;) {
        if (nss->proc) {
            if (!process_run(nss->proc)) {
                return;
            }
            step_done__(nss);
        }
        if (!nss->running) {
            if (nss->done_gen >= nss->req_gen) {
                return;
            }
            sync_start__(nss);
        }
        if (ovs_list_is_empty(&nss->steps) || nss->run_error) {
            struct nss_step *s;
            LIST_FOR_EACH_POP (s, node, &nss->steps) {
                step_destroy__(s);
            }
            sync_finish__(nss);
            continue;
        }

        struct nss_step *s = CONTAINER_OF(ovs_list_pop_front(&nss->steps),
                                          struct nss_step, node);
        struct nss_want *w = s->nickname ? want_find__(nss, s->nickname)
                                         : NULL;
        char *why = NULL;

        if (s->kind != STEP_LIST && s->kind != STEP_DELETE_STALE
            && (!w || w->error)) {
            /* Dropped from the set meanwhile, or already failed. */
            step_destroy__(s);
            continue;
        }
        if (start_step__(nss, s, &why)) {
            if (s->kind == STEP_LIST) {
                set_error__(&nss->run_error, why);
            } else if (w) {
                want_fail__(w, why);
            } else {
                set_error__(&nss->stale_error, why);
            }
            step_destroy__(s);
            continue;
        }
        nss->cur = s;
    }
}

void
libreswan_nss_wait(const struct libreswan_nss *nss)
{
    if (nss->proc) {
        process_wait(nss->proc);
    } else if (nss->done_gen < nss->req_gen) {
        loop_immediate_wake();
    }
}

uint64_t
libreswan_nss_done_gen(const struct libreswan_nss *nss)
{
    return nss->done_gen;
}

const char *
libreswan_nss_error(const struct libreswan_nss *nss)
{
    return nss->error;
}

const char *
libreswan_nss_entry_error(const struct libreswan_nss *nss,
                          const char *nickname)
{
    const struct nss_want *w = want_find__(nss, nickname);

    if (!w) {
        return "not configured";
    }
    return w->error ? w->error : w->verified ? NULL : nss->error;
}

bool
libreswan_nss_idle(const struct libreswan_nss *nss)
{
    return !nss->running && !nss->proc && nss->done_gen >= nss->req_gen;
}

void
libreswan_nss_format(const struct libreswan_nss *nss, struct ds *out)
{
    const struct nss_want *w;
    size_t n_ok = 0, n_failed = 0;

    HMAP_FOR_EACH (w, node, &nss->wants) {
        n_ok += w->verified;
        n_failed += w->error != NULL;
    }
    ds_put_format(out, "NSS database %s: %zu entr%s wanted, %zu in place, "
                  "%zu failed%s, imports: %"PRIu64", deletions: %"PRIu64,
                  nss->db, hmap_count(&nss->wants),
                  hmap_count(&nss->wants) == 1 ? "y" : "ies", n_ok,
                  n_failed, libreswan_nss_idle(nss) ? "" : ", syncing",
                  nss->n_imports, nss->n_deletes);
    if (nss->error) {
        ds_put_format(out, "; %s", nss->error);
    }
}

void
libreswan_nss_parse_list(const char *text,
                         void (*cb)(void *aux, const char *nickname,
                                    const char *trust),
                         void *aux)
{
    const char *line = text;

    while (line && *line) {
        const char *eol = strchr(line, '\n');
        size_t len = eol ? (size_t) (eol - line) : strlen(line);
        char *copy = xmemdup0(line, len);
        char *end = copy + len;

        /* Trim, then split off the last word: the trust attributes. */
        while (end > copy && (end[-1] == ' ' || end[-1] == '\t'
                              || end[-1] == '\r')) {
            *--end = '\0';
        }
        char *sp = end;
        while (sp > copy && sp[-1] != ' ' && sp[-1] != '\t') {
            sp--;
        }
        char *trust = sp;
        while (sp > copy && (sp[-1] == ' ' || sp[-1] == '\t')) {
            *--sp = '\0';
        }
        if (sp > copy && trust < end && strchr(trust, ',')
            && !strstr(copy, "Trust Attributes")
            && strcmp(trust, "SSL,S/MIME,JAR/XPI")) {
            cb(aux, copy, trust);
        }
        free(copy);
        line = eol ? eol + 1 : NULL;
    }
}
