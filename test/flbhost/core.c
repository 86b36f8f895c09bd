/*
 * The few Fluent Bit core functions a plugin may look up with
 * dlsym(RTLD_DEFAULT, ...). Built twice: into libflbcore.so with default
 * visibility (what a real fluent-bit executable exports), and into the
 * host with hidden visibility (so the host itself exports none of them and
 * --hide-symbols really hides them).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"

/* Offset of the flb_net_host inside the host's instance; set by the host
 * at start-up (depends on --host-field-pad). */
static size_t host_offset = sizeof(struct flb_output_instance);

FLB_EXPORT void flbhost_core_set_host_offset(size_t off)
{
    host_offset = off;
}

struct flb_net_host *flbcore_host(struct flb_output_instance *ins)
{
    return (struct flb_net_host *) ((char *) ins + host_offset);
}

/* The fluent-bit command's entry point (src/fluent-bit.c), which its
 * executable exports and a program embedding Fluent Bit as a library does
 * not: the host plays the command, and never calls it. */
FLB_EXPORT int flb_main(int argc, char **argv)
{
    (void) argc;
    (void) argv;
    abort();
}

FLB_EXPORT flb_sds_t flb_sds_create_len(const char *str, int len)
{
    struct flb_sds *h;

    if (len < 0) {
        len = 0;
    }
    h = malloc(FLB_SDS_HEADER_SIZE + (size_t) len + 1);
    if (!h) {
        return NULL;
    }
    h->len = (uint64_t) len;
    h->alloc = (uint64_t) len;
    if (str && len > 0) {
        memcpy(h->buf, str, (size_t) len);
    }
    else {
        memset(h->buf, 0, (size_t) len);
    }
    h->buf[len] = '\0';
    return h->buf;
}

FLB_EXPORT flb_sds_t flb_sds_create(const char *str)
{
    return flb_sds_create_len(str, str ? (int) strlen(str) : 0);
}

FLB_EXPORT void flb_sds_destroy(flb_sds_t s)
{
    struct flb_sds *h;

    if (!s) {
        return;
    }
    h = (struct flb_sds *) (s - FLB_SDS_HEADER_SIZE);
    /* poison, so a plugin that keeps using a destroyed string notices */
    memset(h->buf, 0x5a, (size_t) h->len);
    h->len = 0xdeadbeefULL;
    free(h);
}

/* Same contract as Fluent Bit: set host.name when NULL, host.port when 0 */
FLB_EXPORT void flb_output_net_default(const char *host, const int port,
                                       struct flb_output_instance *ins)
{
    struct flb_net_host *h = flbcore_host(ins);

    if (!h->name) {
        h->name = flb_sds_create(host);
    }
    if (h->port == 0) {
        h->port = port;
    }
}

FLB_EXPORT const char *flb_output_name(struct flb_output_instance *ins)
{
    if (ins->alias) {
        return ins->alias;
    }
    return ins->name;
}

/* --- logging, exported by every Fluent Bit (src/flb_log.c, src/flb_worker.c) --- */

/* Fluent Bit's threads (engine, output workers) are flb_workers; a plugin's
 * own threads are not, and flb_worker_get() returns NULL there. */
static __thread int on_fluent_bit_thread;
static int worker_token;

FLB_EXPORT void flbhost_core_set_log(int level, int with_ms)
{
    g_log_level = level;
    g_log_ms = with_ms;
}

FLB_EXPORT void flbhost_core_fluent_bit_thread(void)
{
    on_fluent_bit_thread = 1;
}

/* the caller checks the level, as flb_log_check() does for the core */
FLB_EXPORT void flb_log_print(int type, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    (void) file;
    (void) line;
    va_start(ap, fmt);
    log_vemit(type, fmt, ap);
    va_end(ap);
}

FLB_EXPORT void *flb_worker_get(void)
{
    return on_fluent_bit_thread ? &worker_token : NULL;
}

FLB_EXPORT int flb_worker_log_level(void *worker)
{
    if (worker != &worker_token) {
        fprintf(stderr, "flbhost: FATAL: flb_worker_log_level() called with %p, not a worker "
                "(Fluent Bit dereferences it)\n", worker);
        abort();
    }
    return g_log_level;
}

#ifndef FLBCORE_1_9
/* from 2.0 (src/flb_output.c) */
FLB_EXPORT int flb_output_log_check(struct flb_output_instance *ins, int l)
{
    if (!ins || ins->magic != FLBHOST_INS_MAGIC) {
        fprintf(stderr, "flbhost: FATAL: flb_output_log_check() called with %p\n", (void *) ins);
        abort();
    }
    return ins->log_level < l ? 0 : 1;
}
#endif
