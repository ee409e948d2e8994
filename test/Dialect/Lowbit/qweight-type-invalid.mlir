// RUN: lowbit-opt %s -split-input-file -verify-diagnostics

// expected-error @below {{quantized weight must be 2-D [N, K], got rank 3}}
func.func private @f(!lowbit.qweight<2x4x4, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f16>>)

// -----

// expected-error @below {{quantized weight dimensions must be positive, got 0x4}}
func.func private @f(!lowbit.qweight<0x4, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f16>>)

// -----

// expected-error @below {{expected static shape}}
func.func private @f(!lowbit.qweight<?x4, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f16>>)
