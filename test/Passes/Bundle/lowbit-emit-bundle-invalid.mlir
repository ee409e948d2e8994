// Options and errors of lowbit-emit-bundle, and of the pipelines.
// RUN: rm -rf %t && mkdir -p %t
// RUN: lowbit-opt %s -split-input-file -verify-diagnostics -lowbit-emit-bundle="output=%t/x.lowbit"
// RUN: not lowbit-opt %s -split-input-file -lowbit-emit-bundle 2>&1 | FileCheck %s --check-prefix=NOOUT
// RUN: not lowbit-opt %s -split-input-file -lowbit-emit-bundle="output=%t/x.lowbit target=riscv" 2>&1 | FileCheck %s --check-prefix=TARGET
// RUN: not lowbit-opt %s -lowbit-to-bundle-pipeline="target=riscv output=%t/x.lowbit" 2>&1 | FileCheck %s --check-prefix=PTARGET
// RUN: not lowbit-opt %s -lowbit-to-bundle-pipeline="target=x86" 2>&1 | FileCheck %s --check-prefix=POUT
// RUN: not lowbit-opt %s -lowbit-to-bundle-pipeline="target=x86 output=%t/x.lowbit act-bits=4" 2>&1 | FileCheck %s --check-prefix=PACT
// RUN: not lowbit-opt %s -lowbit-quantize-pipeline="method=awq" 2>&1 | FileCheck %s --check-prefix=METHOD
// RUN: not lowbit-opt %s -lowbit-quantize-pipeline="method=none" 2>&1 | FileCheck %s --check-prefix=NONE
// RUN: test ! -e %t/x.lowbit
// NOOUT: error: lowbit-emit-bundle needs output=FILE
// TARGET: error: unknown target 'riscv'{{.*}}x86
// PTARGET: lowbit-to-bundle-pipeline: unknown target 'riscv'{{.*}}x86
// POUT: lowbit-to-bundle-pipeline needs output=FILE
// PACT: lowbit-to-bundle-pipeline: act-bits must be 0 (float activations) or 8, got 4
// METHOD: lowbit-quantize-pipeline: unknown method 'awq' (supported: rtn, gptq, none)
// NONE: lowbit-quantize-pipeline: method=none quantizes nothing without lm-head-bits

// An unfused dequantization is reported (on the module, naming the op);
// nothing is written.
// expected-error @below {{'lowbit.dequantize' op standalone dequantization cannot be emitted (run -lowbit-fuse-dequant-matmul first)}}
module attributes {lowbit.config = {}} {
  func.func @forward(%ids: tensor<?xi32>, %pos: tensor<?xi32>) -> tensor<?x2xf32> {
    %t = lowbit.param "emb" {value = dense<1.0> : tensor<5x8xf32>} : tensor<5x8xf32>
    %h = lowbit.embedding %t, %ids : (tensor<5x8xf32>, tensor<?xi32>) -> tensor<?x8xf32>
    %q = lowbit.qparam "w" {codes = dense<3> : tensor<2x8xui4>, scales = dense<0.5> : tensor<2x1xf32>} : !lowbit.qweight<2x8, #lowbit.scheme<bits = 4, group_size = -1, symmetric = true, scale_type = f32>>
    %w = lowbit.dequantize %q : !lowbit.qweight<2x8, #lowbit.scheme<bits = 4, group_size = -1, symmetric = true, scale_type = f32>> -> tensor<2x8xf32>
    %y = lowbit.linear %h, %w : (tensor<?x8xf32>, tensor<2x8xf32>) -> tensor<?x2xf32>
    return %y : tensor<?x2xf32>
  }
}

// -----

// A quantized matmul not lowered to the kernel level.
// expected-error @below {{'lowbit.qmatmul' op quantized matmuls are emitted from the kernel level (run -lowbit-outline-kernels and -lowbit-translate-executables first)}}
module attributes {lowbit.config = {}} {
  func.func @forward(%ids: tensor<?xi32>, %pos: tensor<?xi32>) -> tensor<?x2xf32> {
    %t = lowbit.param "emb" {value = dense<1.0> : tensor<5x8xf32>} : tensor<5x8xf32>
    %h = lowbit.embedding %t, %ids : (tensor<5x8xf32>, tensor<?xi32>) -> tensor<?x8xf32>
    %q = lowbit.qparam "w" {codes = dense<3> : tensor<2x8xui4>, scales = dense<0.5> : tensor<2x1xf32>} : !lowbit.qweight<2x8, #lowbit.scheme<bits = 4, group_size = -1, symmetric = true, scale_type = f32>>
    %y = lowbit.qmatmul %h, %q : (tensor<?x8xf32>, !lowbit.qweight<2x8, #lowbit.scheme<bits = 4, group_size = -1, symmetric = true, scale_type = f32>>) -> tensor<?x2xf32>
    return %y : tensor<?x2xf32>
  }
}

// -----

// An executable whose code was never generated.
// expected-error @below {{executable @x86 has no lowbit.binary (run -lowbit-translate-executables first)}}
module attributes {lowbit.config = {}, lowbit.target = #lowbit.target<"x86">} {
  lowbit.executable @x86 target(#lowbit.target<"x86">) {
    lowbit.kernel @k qmatmul n = 2, k = 8, layout = "x86-tile16-v1", scheme = #lowbit.scheme<bits = 4, group_size = -1, symmetric = true, scale_type = f32>
  }
  func.func @forward(%ids: tensor<?xi32>, %pos: tensor<?xi32>) -> tensor<?x2xf32> {
    %t = lowbit.param "emb" {value = dense<1.0> : tensor<5x8xf32>} : tensor<5x8xf32>
    %h = lowbit.embedding %t, %ids : (tensor<5x8xf32>, tensor<?xi32>) -> tensor<?x8xf32>
    %q = lowbit.qparam "w" {codes = dense<3> : tensor<2x8xui4>, scales = dense<0.5> : tensor<2x1xf32>} : !lowbit.qweight<2x8, #lowbit.scheme<bits = 4, group_size = -1, symmetric = true, scale_type = f32>>
    %p = lowbit.pack %q : !lowbit.qweight<2x8, #lowbit.scheme<bits = 4, group_size = -1, symmetric = true, scale_type = f32>> -> !lowbit.packed<2x8, #lowbit.scheme<bits = 4, group_size = -1, symmetric = true, scale_type = f32>, "x86-tile16-v1">
    %y = lowbit.dispatch @x86::@k(%h, %p) : (tensor<?x8xf32>, !lowbit.packed<2x8, #lowbit.scheme<bits = 4, group_size = -1, symmetric = true, scale_type = f32>, "x86-tile16-v1">) -> tensor<?x2xf32>
    return %y : tensor<?x2xf32>
  }
}

// -----

// The module records another target than the one asked for.
// expected-error @below {{module is legalized for target 'other', not 'x86'}}
module attributes {lowbit.target = #lowbit.target<"other">} {
  func.func @forward(%ids: tensor<?xi32>, %pos: tensor<?xi32>) -> tensor<?x8xf32> {
    %t = lowbit.param "emb" {value = dense<1.0> : tensor<5x8xf32>} : tensor<5x8xf32>
    %h = lowbit.embedding %t, %ids : (tensor<5x8xf32>, tensor<?xi32>) -> tensor<?x8xf32>
    return %h : tensor<?x8xf32>
  }
}
