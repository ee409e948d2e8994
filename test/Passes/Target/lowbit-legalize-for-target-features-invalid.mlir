// RUN: lowbit-opt %s -lowbit-legalize-for-target="features=avx2,sse9" -verify-diagnostics

// expected-error @below {{target 'x86' does not support feature 'sse9' (supported: avx2, avx512bw, avx512dq, avx512f, avx512vl, avx512vnni, avxvnni, f16c, fma)}}
module {
}
