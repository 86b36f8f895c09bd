/* flbhost internal declarations */
#ifndef FLBHOST_INTERNAL_H
#define FLBHOST_INTERNAL_H

#include <stdarg.h>
#include <stdint.h>
#include <stddef.h>

#include "flbhost.h"

struct kv {
    char *key;
    char *val;
};

struct kvlist {
    struct kv *v;
    int n;
    int cap;
};

/* one [OUTPUT] section / -o option / YAML outputs entry */
struct outdef {
    char *name;          /* Name as written, may be "name://host:port/path" */
    struct kvlist props; /* raw (untranslated) values, in order */
    char *origin;        /* where it came from, for messages */
};

struct config {
    struct kvlist service;
    char **plugins;
    int nplugins;
    struct outdef *outs;
    int nouts;
    int ninputs;
    char *input_name;    /* first [INPUT] Name */
    char *input_tag;     /* first [INPUT] Tag */
    char *conf_dir;      /* directory of the main config, with '/' */
};

extern int g_log_level;
extern int g_log_ms;
extern struct kvlist g_env;

/* One Fluent Bit release as a Go output plugin meets it (--flb-version,
 * profile.c; the facts and their source files: docs/fluent-bit-versions.md). */
struct flb_profile {
    const char *version;      /* as given to --flb-version */
    const char *release;      /* the tag it models */
    int api_fields;           /* struct flb_api: 1 (1.9), 7 (2.0 to 3.x), 9 (4.0 on) */
    int def_fields;           /* struct flb_plugin_proxy_def: 5, 7 from 5.0 */
    int def_zeroed;           /* the def is flb_calloc'ed (5.0 on), else flb_malloc'ed */
    int core_2_0;             /* exports flb_output_log_check (2.0 on) */
    int metrics;              /* flb_output_get_cmt_instance and cmt_* (2.0 on) */
    const char *cmt_version;  /* its lib/cmetrics, as cmt_version() says */
    int pre_hooks;            /* FLBPluginPreRegister, OutputPreRun, OutputPreExit */
    int hot_reload;           /* src/flb_reload.c exists */
    int reload_refuses_flush; /* proxy_cb_flush returns FLB_RETRY while reloading */
    int exit_last_ctx;        /* ExitCtx gets the last instance's context; the proxy
                               * is destroyed after the first instance's exit */
    int log_ms;               /* log timestamps with milliseconds */
    int oauth2_keys;          /* the core keeps oauth2* keys and refuses unknown ones (5.0 on) */
    long host_pad;            /* where the instance's flb_net_host sits */
    const char *no_tls;       /* flb_output.c's words for tls on without FLB_IO_TLS */
    int bad_property_stops;   /* a property the core refuses stops Fluent Bit
                               * (src/flb_config.c, 4.0.3 on); before, an error
                               * line and it runs on without that property */
    int signal_reinit;        /* SIGHUP asks for a hot reload, and the SIGHUP and SIGCONT
                               * handler runs flb_signal_init() again (2.1 on) */
    int retry_at_stop;        /* a RETRY while the engine stops is retried after 1 s and
                               * pending retries are moved to now; Grace -1 waits (2.0 on) */
};

const struct flb_profile *profile_find(const char *version);
const char *profile_list(void);

void *xmalloc(size_t n);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *trim(char *s);
int64_t now_ms(void);
void kv_add(struct kvlist *l, const char *k, const char *v);
const char *kv_get(struct kvlist *l, const char *k);
void kv_set(struct kvlist *l, const char *k, const char *v);
void kv_free(struct kvlist *l);
void log_vemit(int level, const char *fmt, va_list ap);
void log_vemit_fd(int fd, int level, const char *fmt, va_list ap);
extern void (*g_log_sink)(int level, const char *fmt, va_list ap);
void hlog(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void die(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
int parse_log_level(const char *s);
int parse_bool(const char *s);
const char *env_get(const char *name);
char *env_translate(const char *value);
char *json_str(const char *s);

/* hostlog.c: the log as Fluent Bit's workers see it */
typedef void (*log_print_fn)(int type, const char *file, int line, const char *fmt, ...);
void hostlog_open(const char *path);          /* [SERVICE] Log_File */
void hostlog_load(void *core_handle, const char *path);
void hostlog_engine_start(void);              /* the engine thread's worker */
void hostlog_thread_start(void);              /* an output worker thread's */
void hostlog_config_exit(void);               /* the config's workers destroyed */
log_print_fn hostlog_print(void);             /* flb_log_print */
void hostlog_print_totals(void);

/* config.c */
struct outdef *config_add_output(struct config *c, const char *name, const char *origin);
int config_load(struct config *c, const char *path);
int config_load_plugins_file(struct config *c, const char *path);
void config_add_plugin(struct config *c, const char *path);

#endif
