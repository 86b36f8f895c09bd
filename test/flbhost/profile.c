/*
 * The Fluent Bit releases the host can play (--flb-version). Each line is
 * what that release's source shows a Go output plugin: include/fluent-bit/
 * flb_api.h, flb_plugin_proxy.h, src/flb_api.c, src/flb_plugin_proxy.c,
 * src/proxy/go/go.c, src/flb_output.c, src/flb_reload.c, src/flb_log.c,
 * src/fluent-bit.c (signals), src/flb_engine.c and src/flb_scheduler.c (stop).
 */
#include <string.h>

#include "host.h"

static const struct flb_profile profiles[] = {
    /* version release api def zero 2.0 cmt cmetrics pre reload refuse lastctx ms oauth2 pad
     * no_tls stops reinit retry_at_stop */
    {"1.9", "v1.9.10", 1, 5, 0, 0, 0, NULL,    0, 0, 0, 1, 0, 0, 0,  "don't support TLS", 0, 0, 0},
    {"2.0", "v2.0.14", 7, 5, 0, 1, 1, "0.6.1", 0, 0, 0, 0, 0, 0, 8,  "don't support TLS", 0, 0, 1},
    {"2.2", "v2.2.3",  7, 5, 0, 1, 1, "0.6.6", 1, 1, 1, 0, 0, 0, 24, "does not support TLS", 0, 1, 1},
    {"3.2", "v3.2.10", 7, 5, 0, 1, 1, "0.9.9", 1, 1, 0, 0, 0, 0, 40, "does not support TLS", 0, 1, 1},
    {"4.0", "v4.0.14", 9, 5, 0, 1, 1, "1.0.5", 1, 1, 0, 0, 0, 0, 64, "does not support TLS", 1, 1, 1},
    {"5.1", "v5.1.1",  9, 7, 1, 1, 1, "2.2.1", 1, 1, 0, 0, 1, 1, 96, "does not support TLS", 1, 1, 1},
};

const struct flb_profile *profile_find(const char *version)
{
    size_t i;
    for (i = 0; i < sizeof(profiles) / sizeof(profiles[0]); i++) {
        if (strcmp(profiles[i].version, version) == 0) {
            return &profiles[i];
        }
    }
    return NULL;
}

const char *profile_list(void)
{
    return "1.9, 2.0, 2.2, 3.2, 4.0, 5.1";
}
