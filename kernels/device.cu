// device.cu - device discovery for the kernels target.
#include <cuda_runtime.h>
#include <stdio.h>

#include "kernels/mp_kernels.h"

extern "C" int mp_kernels_device(char *buf, size_t n, mp_err *err)
{
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess || count == 0)
        return mp_err_set(err, MP_EUNSUPPORTED, "no CUDA GPU found: %s",
                          e != cudaSuccess ? cudaGetErrorString(e) : "the driver lists no device");
    cudaDeviceProp p;
    e = cudaGetDeviceProperties(&p, 0);
    if (e != cudaSuccess) return mp_err_set(err, MP_EUNSUPPORTED, "cudaGetDeviceProperties: %s", cudaGetErrorString(e));
    snprintf(buf, n, "%s, sm_%d%d, %d SMs", p.name, p.major, p.minor, p.multiProcessorCount);
    return 0;
}
