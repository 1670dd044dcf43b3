/* SPDX-License-Identifier: Apache-2.0
 *
 * outfiles: see outfiles.h.
 *
 * RENAME_NOREPLACE makes "create, but never replace" atomic.  Where a file
 * system lacks it, link() followed by unlink() of the temporary name gives
 * the same guarantee.
 */
#include "config.h"
#include "outfiles.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "util.h"

/* One staged file. */
struct outfile {
    char *path;                 /* Final path. */
    char *tmp;                  /* Temporary file, or NULL once moved. */
    bool created;               /* Moved into place where nothing was. */
};

struct outfiles {
    struct outfile *files;      /* Staged files, in the order added. */
    size_t n;                   /* Number of 'files'. */
};

struct outfiles *
outfiles_create(void)
{
    return xzalloc(sizeof (struct outfiles));
}

static void
clear__(struct outfiles *of)
{
    for (size_t i = 0; i < of->n; i++) {
        if (of->files[i].tmp) {
            unlink(of->files[i].tmp);
        }
        free(of->files[i].tmp);
        free(of->files[i].path);
    }
    free(of->files);
    of->files = NULL;
    of->n = 0;
}

void
outfiles_destroy(struct outfiles *of)
{
    if (of) {
        clear__(of);
        free(of);
    }
}

/* Writes all of 'data' to 'fd'.  Returns 0 or -errno. */
static int
write_fully__(int fd, const char *data, size_t size)
{
    while (size > 0) {
        ssize_t n = write(fd, data, size);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -errno;
        }
        data += n;
        size -= n;
    }
    return 0;
}

int
outfiles_add(struct outfiles *of, const char *path, const void *data,
             size_t size, mode_t mode, char **ret_why)
{
    char *tmp = xasprintf("%s.tmpXXXXXX", path);
    int error;
    int fd;

    *ret_why = NULL;

    /* mkostemp() creates the file with mode 0600, so that its contents are
     * never readable by others; the final mode is set before anything is
     * written. */
    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        error = -errno;
        *ret_why = xasprintf("%s: cannot create: %s", path,
                             ovsec_strerror(error));
        free(tmp);
        return error;
    }
    if (fchmod(fd, mode) < 0) {
        error = -errno;
        *ret_why = xasprintf("%s: %s", tmp, ovsec_strerror(error));
        goto error;
    }
    error = write_fully__(fd, data, size);
    if (error) {
        *ret_why = xasprintf("%s: write failed: %s", tmp,
                             ovsec_strerror(error));
        goto error;
    }
    if (fsync(fd) < 0) {
        error = -errno;
        *ret_why = xasprintf("%s: fsync failed: %s", tmp,
                             ovsec_strerror(error));
        goto error;
    }
    if (close(fd) < 0) {
        fd = -1;
        error = -errno;
        *ret_why = xasprintf("%s: close failed: %s", tmp,
                             ovsec_strerror(error));
        goto error;
    }

    of->files = xrealloc(of->files, (of->n + 1) * sizeof *of->files);
    of->files[of->n++] = (struct outfile) {
        .path = xstrdup(path),
        .tmp = tmp,
        .created = false,
    };
    return 0;

error:
    if (fd >= 0) {
        close(fd);
    }
    unlink(tmp);
    free(tmp);
    return error;
}

/* Renames 'from' to 'to' unless 'to' exists.  Returns 0 or -errno
 * (-EEXIST if 'to' exists). */
static int
rename_noreplace__(const char *from, const char *to)
{
    if (!renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE)) {
        return 0;
    } else if (errno != EINVAL && errno != ENOSYS) {
        return -errno;
    }

    /* No RENAME_NOREPLACE on this file system: link() never replaces
     * either. */
    if (link(from, to) < 0) {
        return -errno;
    }
    unlink(from);
    return 0;
}

/* fsync()s the directory that holds 'path', so that a rename into it
 * survives a crash.  Errors are ignored: the files are complete either
 * way, and some file systems refuse to sync directories. */
static void
sync_dir__(const char *path)
{
    char *copy = xstrdup(path);
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(copy);
}

int
outfiles_commit(struct outfiles *of, bool overwrite, char **ret_why)
{
    int error = 0;

    *ret_why = NULL;
    for (size_t i = 0; i < of->n; i++) {
        struct outfile *f = &of->files[i];

        if (overwrite) {
            error = rename(f->tmp, f->path) < 0 ? -errno : 0;
        } else {
            error = rename_noreplace__(f->tmp, f->path);
            f->created = !error;
        }
        if (error) {
            *ret_why = (error == -EEXIST
                        ? xasprintf("%s already exists and --force not "
                                    "supplied", f->path)
                        : xasprintf("%s: cannot rename %s into place: %s",
                                    f->path, f->tmp,
                                    ovsec_strerror(error)));
            break;
        }
        free(f->tmp);
        f->tmp = NULL;
    }

    if (error) {
        /* Take back what this commit created.  A file that replaced an
         * older one cannot be taken back; that happens only with
         * 'overwrite', where the operator asked for the new files. */
        for (size_t i = 0; i < of->n; i++) {
            if (of->files[i].created) {
                unlink(of->files[i].path);
            }
        }
    } else {
        for (size_t i = 0; i < of->n; i++) {
            sync_dir__(of->files[i].path);
        }
    }
    clear__(of);
    return error;
}
