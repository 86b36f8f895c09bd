/*
 * flbhost: a test host that loads a Fluent Bit Go output plugin (.so) and
 * drives it the way Fluent Bit v5.1.1 does. Shared definitions.
 *
 * Layouts that a plugin can see (proxy def, plugin struct, api table,
 * proxy context, flb_net_host, sds header) match Fluent Bit's. The output
 * instance itself is the host's own struct: plugins must treat it as
 * opaque, exactly as with the real Fluent Bit.
 */
#ifndef FLBHOST_H
#define FLBHOST_H

#include <stddef.h>
#include <stdint.h>
#include <pthread.h>

#if defined(FLBCORE_SHARED)
#define FLB_EXPORT __attribute__((visibility("default")))
#else
#define FLB_EXPORT __attribute__((visibility("hidden")))
#endif

/* Return codes (flb_output.h) */
#define FLB_ERROR 0
#define FLB_OK    1
#define FLB_RETRY 2

#define FLB_PROXY_OUTPUT_PLUGIN 2
#define FLB_PROXY_GOLANG        11

#define FLB_OUTPUT_NET          32
#define FLB_IO_TLS              2
#define FLB_IO_OPT_TLS          4
#define FLB_OUTPUT_LOGS         1

#define FLB_LOG_OFF   0
#define FLB_LOG_ERROR 1
#define FLB_LOG_WARN  2
#define FLB_LOG_INFO  3
#define FLB_LOG_DEBUG 4
#define FLB_LOG_TRACE 5

#define FLB_OUT_RETRY_UNLIMITED -1
#define FLB_OUT_RETRY_NONE       0

typedef char *flb_sds_t;

/* Fluent Bit's sds header: 16 bytes before the characters. */
struct flb_sds {
    uint64_t len;
    uint64_t alloc;
    char buf[];
};
#define FLB_SDS_HEADER_SIZE (sizeof(uint64_t) * 2)

struct flb_uri {
    char *full;
    int count;
};

struct flb_net_host {
    int ipv6;
    flb_sds_t address;
    int port;
    flb_sds_t name;
    flb_sds_t listen;
    struct flb_uri *uri;
};

/* Full 7-field layout (fluent-bit-go fills the first five). */
struct flb_plugin_proxy_def {
    int type;
    int proxy;
    int flags;
    char *name;
    char *description;
    int event_type;
    void *config_map;
};

struct flb_output_instance;

struct flb_plugin_proxy_context {
    void *remote_context;
    void *proxy;
};

struct flb_api {
    const char *(*output_get_property)(const char *, struct flb_output_instance *);
    const char *(*input_get_property)(const char *, void *);
    void *(*output_get_cmt_instance)(struct flb_output_instance *);
    void *(*input_get_cmt_instance)(void *);
    void (*log_print)(int, const char *, int, const char *, ...);
    int (*input_log_check)(void *, int);
    int (*output_log_check)(struct flb_output_instance *, int);
    const char *(*custom_get_property)(const char *, void *);
    int (*custom_log_check)(void *, int);
};

/* go.c's struct flbgo_output_plugin: one per library, shared by instances */
struct flbgo_output_plugin {
    char *name;
    struct flb_api *api;
    struct flb_output_instance *o_ins;
    struct flb_plugin_proxy_context *context;
    int (*cb_init)(struct flbgo_output_plugin *);
    int (*cb_flush)(const void *, int, const char *);
    int (*cb_flush_ctx)(void *, const void *, int, char *);
    int (*cb_exit)(void);
    int (*cb_exit_ctx)(void *);
};

/* --- the host's own instance struct (opaque to plugins) --- */
#define FLBHOST_INS_MAGIC 0x464c4248u /* "FLBH" */

struct hprop {
    char *key;
    char *val; /* NULL when empty, like Fluent Bit */
};

struct flb_output_instance {
    uint32_t magic;
    int id;
    char name[128];          /* "<plugin>.<id>" */
    flb_sds_t alias;
    int log_level;
    int retry_limit;
    int workers;
    int flags;
    char *match;
    int has_match_regex;
    int tls_on;
    struct hprop *props;
    int nprops;
    int props_cap;
    struct hprop *oauth2;    /* oauth2* keys the core keeps (5.0 on) */
    int noauth2;
    struct flb_plugin_proxy_context *context;
    void *cmt;               /* cmetrics context (cmt.c), NULL without metrics */
    void *engine;            /* host bookkeeping (struct hinst *) */
    /* The flb_net_host lives at a run-time offset after this struct
     * (see flbcore_host_offset), never at a fixed place. */
    char tail[];
};

/* core (exported from libflbcore.so, hidden copy inside the host) */
FLB_EXPORT flb_sds_t flb_sds_create_len(const char *str, int len);
FLB_EXPORT flb_sds_t flb_sds_create(const char *str);
FLB_EXPORT void flb_sds_destroy(flb_sds_t s);
FLB_EXPORT void flb_output_net_default(const char *host, const int port,
                                       struct flb_output_instance *ins);
FLB_EXPORT const char *flb_output_name(struct flb_output_instance *ins);
FLB_EXPORT void flbhost_core_set_host_offset(size_t off);

/* host-internal helpers from core.c */
struct flb_net_host *flbcore_host(struct flb_output_instance *ins);

#endif
