/*
 * The few Fluent Bit core functions a plugin may look up with
 * dlsym(RTLD_DEFAULT, ...). Built twice: into libflbcore.so with default
 * visibility (what a real fluent-bit executable exports), and into the
 * host with hidden visibility (so the host itself exports none of them and
 * --hide-symbols really hides them).
 */
#include <stdlib.h>
#include <string.h>

#include "flbhost.h"

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
