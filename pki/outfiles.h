/* SPDX-License-Identifier: Apache-2.0
 *
 * outfiles: writes the files one command makes all or nothing.
 *
 * Each file is first written in full to a temporary file beside its final
 * path ("PATH.tmpXXXXXX", created mode 0600 so that a private key is never
 * readable by others, not even for a moment), flushed with fsync() and
 * given its final mode.  Only when every file of the command is ready does
 * outfiles_commit() move them into place: with rename() when overwriting
 * is allowed, otherwise with a rename that fails if the path exists, so
 * that a file that appeared meanwhile is never replaced.  A failure or
 * outfiles_destroy() before the commit removes the temporary files, and a
 * failed commit removes the files it had already moved into place (those
 * it created, never those it replaced), so no half-written or half-made
 * set of files is left behind.
 */
#ifndef OVSEC_OUTFILES_H
#define OVSEC_OUTFILES_H 1

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct outfiles;

/* Returns a new, empty set of files; free with outfiles_destroy(). */
struct outfiles *outfiles_create(void);

/* Removes the temporary files of 'of' not committed yet and frees 'of'.
 * NULL is allowed. */
void outfiles_destroy(struct outfiles *of);

/* Writes the 'size' bytes at 'data' to a new temporary file for 'path',
 * which gets 'mode' (0600 for secrets, else e.g. 0644 less the umask),
 * and adds it to 'of'.  'data' is not kept.  Returns 0 or -errno, with a
 * message naming the file in '*ret_why' (the caller frees it). */
int outfiles_add(struct outfiles *of, const char *path, const void *data,
                 size_t size, mode_t mode, char **ret_why);

/* Moves every file added to 'of' into place, in the order added.  Unless
 * 'overwrite', a path that already exists fails with -EEXIST and the
 * message "PATH already exists and --force not supplied".  Returns 0 or
 * -errno with a message in '*ret_why'.  Either way, 'of' is left empty. */
int outfiles_commit(struct outfiles *of, bool overwrite, char **ret_why);

#endif /* outfiles.h */
