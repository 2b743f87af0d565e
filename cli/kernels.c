/* kernels.c - dlopen of the CUDA kernels module on demand (cli/kernels.h). */
#include "cli/kernels.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

/* The binary's folder (with a trailing '/') into buf; 0, or -1 if unknown. */
static int exe_dir(char *buf, size_t n)
{
    ssize_t k = readlink("/proc/self/exe", buf, n - 1);
    if (k <= 0 || (size_t)k >= n - 1) return -1;
    buf[k] = '\0';
    char *slash = strrchr(buf, '/');
    if (!slash) return -1;
    slash[1] = '\0';
    return 0;
}

static const mp_kernels_api *load(const char *cmd)
{
    static const mp_kernels_api *api;
    if (api) return api;
    const char *env = getenv("MOEPLACE_KERNELS");
    char path[4096];
    void *h = NULL;
    if (env && *env) {
        snprintf(path, sizeof path, "%s", env);
        h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        if (!h) {
            cli_message("moeplace %s: cannot load the CUDA kernels (MOEPLACE_KERNELS): %s", cmd, dlerror());
            return NULL;
        }
    } else {
        char dir[2048];
        if (exe_dir(dir, sizeof dir) == 0) {
            const char *where[] = {"../lib/moeplace/", ""};
            for (size_t i = 0; i < sizeof where / sizeof where[0] && !h; i++) {
                int len = snprintf(path, sizeof path, "%s%s%s", dir, where[i], MP_KERNELS_MODULE);
                if (len < 0 || (size_t)len >= sizeof path || access(path, F_OK) != 0) continue;
                h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
                if (!h) {
                    cli_message("moeplace %s: cannot load the CUDA kernels: %s", cmd, dlerror());
                    return NULL;
                }
            }
        }
        if (!h) {
            fprintf(stderr,
                    "moeplace %s: moeplace was built without CUDA kernels (no %s beside it or in ../lib/moeplace/)\n",
                    cmd, MP_KERNELS_MODULE);
            return NULL;
        }
    }
    void *sym = dlsym(h, MP_KERNELS_API_SYMBOL);
    mp_kernels_api_fn fn;
    memcpy(&fn, &sym, sizeof fn); /* ISO C has no cast from void * to a function pointer */
    const mp_kernels_api *t = sym ? fn() : NULL;
    if (!t || t->abi_version != MP_KERNELS_ABI_VERSION || t->size < sizeof *t) {
        cli_message("moeplace %s: %s is not a moeplace kernels module of ABI version %d (rebuild it with this "
                    "moeplace)",
                    cmd, path, MP_KERNELS_ABI_VERSION);
        dlclose(h);
        return NULL;
    }
    api = t;
    return api;
}

const mp_kernels_api *cli_kernels_load(const char *cmd, int need_gpu, char *dev, size_t n)
{
    const mp_kernels_api *k = load(cmd);
    if (!k || !need_gpu) return k;
    mp_err err = {0};
    if (k->device(dev, n, &err)) {
        cli_message("moeplace %s: %s", cmd, err.msg);
        return NULL;
    }
    return k;
}
