package main

import "github.com/lcnet/lcnet/internal/kernel"

// kernelImpl names the CPU kernels nn computes with ("avx512", "avx2" or
// "generic"), for bench output and the serve start-up log.
func kernelImpl() string { return kernel.Impl() }
