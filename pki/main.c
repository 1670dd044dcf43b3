/* SPDX-License-Identifier: Apache-2.0
 *
 * ovsec-pki: a drop-in for upstream Open vSwitch's ovs-pki, for IPsec.
 * This file parses the options (upstream's, plus --days) and runs the
 * subcommand from the table below; each subcommand is in cmd-<verb>.c.
 * Exit status: 0 on success, 1 on any failure, after a message on
 * standard error that names the file and the reason.
 */
#include "config.h"
#include "pki.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* One subcommand. */
struct command {
    const char *name;           /* As typed, e.g. "req+sign". */
    int min_args, max_args;     /* Arguments after the name. */
    const char *usage;          /* Arguments, for --help. */
    const char *help;           /* One line, for --help. */
    bool writes;                /* Makes files: opens the audit log. */
    pki_command_func *run;
};

static const struct command commands[] = {
    { "init", 0, 0, "", "Initialize the PKI", true, cmd_init },
    { "req", 1, 1, "NAME", "Create NAME-privkey.pem and request NAME-req.pem",
      true, cmd_req },
    { "sign", 1, 2, "NAME [TYPE]", "Sign NAME-req.pem, producing "
      "NAME-cert.pem", true, cmd_sign },
    { "req+sign", 1, 2, "NAME [TYPE]", "Combine the above two steps, "
      "producing all three files", true, cmd_req_sign },
    { "verify", 1, 2, "NAME [TYPE]", "Check that NAME-cert.pem is a valid "
      "TYPE certificate", false, cmd_verify },
    { "fingerprint", 1, 1, "FILE", "Print the fingerprint of FILE", false,
      cmd_fingerprint },
    { "self-sign", 1, 1, "NAME", "Sign NAME-req.pem with NAME-privkey.pem "
      "(self-signed)", true, cmd_self_sign },
    { "print", 1, 1, "FILE", "Show the certificate, request or key in FILE",
      false, cmd_print },
};

static const char *program_name = "ovsec-pki";

static void
usage(void)
{
    printf("%s, for managing a simple public key infrastructure for\n"
           "Open vSwitch IPsec\n"
           "usage: %s [OPTION...] COMMAND [ARG...]\n"
           "\nCommands:\n", program_name, program_name);
    for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
        char *head = xasprintf("%s %s", commands[i].name,
                               commands[i].usage);
        printf("  %-22s %s\n", head, commands[i].help);
        free(head);
    }
    printf("Each TYPE above is a certificate type: 'switch' (default) or "
           "'controller'.\n"
           "\nOptions for 'init', 'req' and 'req+sign':\n"
           "  -k, --key=rsa|ec|ed25519  type of new keys (default: rsa)\n"
           "  -B, --bits=NBITS     rsa: at least %d (default: %d)\n"
           "                       ec: 256 (default) or 384\n"
           "Options for 'init', 'sign', 'req+sign' and 'self-sign':\n"
           "  --days=DAYS          validity of new certificates "
           "(default: %d)\n"
           "Options for 'sign':\n"
           "  -b, --batch          skip fingerprint verification\n"
           "Options for 'req', 'req+sign':\n"
           "  -u, --unique         NAME is unique (don't append UUID)\n"
           "Options that apply to any command:\n"
           "  -d, --dir=DIR        directory where the PKI is located\n"
           "                       (default: %s)\n"
           "  -f, --force          continue even if file or directory "
           "already exists\n"
           "  -l, --log=FILE       append a record of what was made to FILE\n"
           "                       (default: %s/%s)\n"
           "  -h, --help           print this usage message\n"
           "  -V, --version        display version information\n",
           PKI_RSA_BITS_MIN, PKI_RSA_BITS_DEFAULT, PKI_DAYS_DEFAULT,
           PKI_DIR_DEFAULT, OVSEC_LOGDIR_DEFAULT, PKI_LOG_NAME);
}

static void NO_RETURN PRINTF_FORMAT(1, 2)
fatal(const char *format, ...)
{
    va_list args;

    fprintf(stderr, "%s: ", program_name);
    va_start(args, format);
    vfprintf(stderr, format, args);
    va_end(args);
    fputc('\n', stderr);
    exit(EXIT_FAILURE);
}

/* Checks -k and -B together and stores them in 'ctx'. */
static void
set_key_options(struct pki_ctx *ctx, const char *key, const char *bits_s)
{
    long long bits = 0;

    if (bits_s && !str_to_llong_range(bits_s, 10, 1, INT32_MAX, &bits)) {
        fatal("argument to -B or --bits must be a positive integer");
    }
    if (!strcmp(key, "rsa")) {
        ctx->key_type = X509_KEY_RSA;
        if (bits_s && bits < PKI_RSA_BITS_MIN) {
            fatal("argument to -B or --bits must be at least %d",
                  PKI_RSA_BITS_MIN);
        } else if (bits > PKI_RSA_BITS_MAX) {
            fatal("argument to -B or --bits must be at most %d for rsa",
                  PKI_RSA_BITS_MAX);
        }
    } else if (!strcmp(key, "ec")) {
        ctx->key_type = X509_KEY_EC;
        if (bits_s && bits != 256 && bits != 384) {
            fatal("argument to -B or --bits must be 256 (P-256) or 384 "
                  "(P-384) for ec");
        }
    } else if (!strcmp(key, "ed25519")) {
        ctx->key_type = X509_KEY_ED25519;
        if (bits_s && bits != 256) {
            fatal("ed25519 keys are always 256 bits; -B or --bits cannot "
                  "change that");
        }
    } else if (!strcmp(key, "dsa")) {
        fatal("-k dsa: %s", PKI_DSA_REFUSED);
    } else {
        fatal("argument to -k or --key must be rsa, ec or ed25519");
    }
    ctx->bits = bits;
}

/* Opens the audit log 'path' for appending, mode 0640: it names the
 * certificates made, which is not everyone's business.  A log that cannot
 * be opened is worth a warning, not a failure: upstream's is optional
 * too. */
static FILE *
open_log(const char *path)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC
                  | O_NOCTTY, 0640);
    FILE *log;

    if (fd < 0) {
        fprintf(stderr, "%s: warning: %s: %s (continuing without a log)\n",
                program_name, path, ovsec_strerror(errno));
        return NULL;
    }
    log = fdopen(fd, "a");
    if (!log) {
        close(fd);
    }
    return log;
}

int
main(int argc, char *argv[])
{
    enum { OPT_DAYS = UCHAR_MAX + 1 };
    static const struct option long_options[] = {
        { "dir", required_argument, NULL, 'd' },
        { "key", required_argument, NULL, 'k' },
        { "bits", required_argument, NULL, 'B' },
        { "dsaparam", required_argument, NULL, 'D' },
        { "batch", no_argument, NULL, 'b' },
        { "force", no_argument, NULL, 'f' },
        { "unique", no_argument, NULL, 'u' },
        { "log", required_argument, NULL, 'l' },
        { "days", required_argument, NULL, OPT_DAYS },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    const struct command *command = NULL;
    const char *key = "rsa";
    const char *bits = NULL;
    const char *log_opt = NULL;
    char *log_path = NULL;
    struct pki_ctx ctx;
    char *why = NULL;
    int error;

    pki_ctx_init(&ctx);
    opterr = 0;
    for (;;) {
        long long days;
        int c = getopt_long(argc, argv, "d:k:B:D:bful:hV", long_options,
                            NULL);
        if (c == -1) {
            break;
        }
        switch (c) {
        case 'd':
            ctx.dir = optarg;
            break;
        case 'k':
            key = optarg;
            break;
        case 'B':
            bits = optarg;
            break;
        case 'D':
            /* Upstream's DSA parameter file: DSA is refused (see -k). */
            break;
        case 'b':
            ctx.batch = true;
            break;
        case 'f':
            ctx.force = true;
            break;
        case 'u':
            ctx.unique = true;
            break;
        case 'l':
            log_opt = optarg;
            break;
        case OPT_DAYS:
            if (!str_to_llong_range(optarg, 10, 1, PKI_DAYS_MAX, &days)) {
                fatal("argument to --days must be a number of days from 1 "
                      "to %d", PKI_DAYS_MAX);
            }
            ctx.days = days;
            break;
        case 'h':
            usage();
            exit(EXIT_SUCCESS);
        case 'V':
            printf("%s (ovsec) %s\n", program_name, OVSEC_VERSION);
            exit(EXIT_SUCCESS);
        case '?':
        default:
            if (optopt == OPT_DAYS) {
                fatal("missing argument to --days");
            } else if (optopt && strchr("dkBDl", optopt)) {
                fatal("missing argument to -%c", optopt);
            } else if (optopt) {
                fatal("unrecognized option -%c", optopt);
            }
            fatal("unrecognized option %s", argv[optind - 1]);
        }
    }
    set_key_options(&ctx, key, bits);

    if (optind >= argc) {
        fatal("missing command name; use --help for help");
    }
    for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
        if (!strcmp(argv[optind], commands[i].name)) {
            command = &commands[i];
        }
    }
    if (!command) {
        fatal("%s command unknown; use --help for help", argv[optind]);
    }

    int n_args = argc - optind - 1;
    char **args = &argv[optind + 1];
    if (n_args < command->min_args || n_args > command->max_args) {
        if (command->max_args == 0) {
            fatal("%s takes no arguments; use --help for help",
                  command->name);
        } else if (command->min_args == command->max_args) {
            fatal("%s must have exactly one argument; use --help for help",
                  command->name);
        } else {
            fatal("%s must have one or two arguments; use --help for help",
                  command->name);
        }
    }

    ctx.command = command->name;
    if (command->writes) {
        log_path = (log_opt
                    ? xstrdup(log_opt)
                    : xasprintf("%s/%s", OVSEC_LOGDIR_DEFAULT, PKI_LOG_NAME));
        ctx.log = open_log(log_path);
    }

    error = command->run(&ctx, n_args, args, &why);
    if (error) {
        fprintf(stderr, "%s: %s\n", program_name,
                why ? why : ovsec_strerror(error));
    }
    free(why);
    free(log_path);
    if (ctx.log) {
        fclose(ctx.log);
    }
    if (fflush(stdout) || ferror(stdout)) {
        fprintf(stderr, "%s: write error on standard output\n",
                program_name);
        error = -EIO;
    }
    return error ? EXIT_FAILURE : EXIT_SUCCESS;
}
