/*
 * A stand-in for a built-in Fluent Bit output plugin: it only exports the
 * data symbol out_<NAME>_plugin, as a fluent-bit executable that has that
 * built-in output does. Built once per name (BUILTIN_NAME).
 */
#ifndef BUILTIN_NAME
#error "define BUILTIN_NAME"
#endif

#define STR2(x) #x
#define STR(x) STR2(x)
#define CAT3(a, b, c) a##b##c
#define SYM(n) CAT3(out_, n, _plugin)

struct flbhost_builtin_output_plugin {
    int flags;
    const char *name;
    const char *description;
};

__attribute__((visibility("default")))
struct flbhost_builtin_output_plugin SYM(BUILTIN_NAME) = {
    0, STR(BUILTIN_NAME), "built-in stand-in exported by flbhost"
};
