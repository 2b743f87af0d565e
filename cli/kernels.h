/*
 * kernels.h - finds and loads the CUDA kernels module (moeplace_kernels.so,
 * kernels/mp_kernels_api.h) for the commands that need a GPU, so that no
 * other command pays for loading CUDA, cuBLAS or NCCL.
 *
 * Where: $MOEPLACE_KERNELS (a path to the module) when set; else, from the
 * binary's own path (/proc/self/exe), ../lib/moeplace/moeplace_kernels.so
 * (the install layout) and then moeplace_kernels.so beside the binary (the
 * build tree).  The module stays loaded until the process ends.
 * Memory: the table returned is the module's; the caller frees nothing.
 */
#ifndef CLI_KERNELS_H
#define CLI_KERNELS_H

#include "kernels/mp_kernels_api.h"

/* The kernels' table, or NULL after one line on stderr ("moeplace CMD: ...")
 * saying why: no module (a build without CUDA kernels), a module that does
 * not load or has another ABI version.  With need_gpu, also NULL (after one
 * line "no CUDA GPU found: <CUDA's reason>") when the module finds no usable
 * device; then `dev` (n bytes) gets the device's description. */
const mp_kernels_api *cli_kernels_load(const char *cmd, int need_gpu, char *dev, size_t n);

#endif
