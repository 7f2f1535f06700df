package main

// kernelImpl names the CPU kernels inference runs on, for bench output.
// nn computes with its own reference Go loops until it moves onto
// internal/kernel; then this reports kernel.Impl() ("avx2", "generic", ...).
func kernelImpl() string { return "nn-reference" }
