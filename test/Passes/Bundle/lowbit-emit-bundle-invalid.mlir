// Options and legality errors of lowbit-emit-bundle, and of the pipelines.
// RUN: rm -rf %t && mkdir -p %t
// RUN: lowbit-opt %s -split-input-file -verify-diagnostics -lowbit-emit-bundle="output=%t/x.lowbit"
// RUN: not lowbit-opt %s -split-input-file -lowbit-emit-bundle 2>&1 | FileCheck %s --check-prefix=NOOUT
// RUN: not lowbit-opt %s -split-input-file -lowbit-emit-bundle="output=%t/x.lowbit act-bits=4" 2>&1 | FileCheck %s --check-prefix=ACT
// RUN: not lowbit-opt %s -split-input-file -lowbit-emit-bundle="output=%t/x.lowbit target=riscv" 2>&1 | FileCheck %s --check-prefix=TARGET
// RUN: not lowbit-opt %s -lowbit-to-bundle-pipeline="target=riscv output=%t/x.lowbit" 2>&1 | FileCheck %s --check-prefix=PTARGET
// RUN: not lowbit-opt %s -lowbit-to-bundle-pipeline="target=x86" 2>&1 | FileCheck %s --check-prefix=POUT
// RUN: not lowbit-opt %s -lowbit-quantize-pipeline="method=awq" 2>&1 | FileCheck %s --check-prefix=METHOD
// RUN: test ! -e %t/x.lowbit
// NOOUT: error: lowbit-emit-bundle needs output=FILE
// ACT: error: act-bits must be 0 (float activations) or 8, got 4
// TARGET: error: unknown target 'riscv'{{.*}}x86
// PTARGET: lowbit-to-bundle-pipeline: unknown target 'riscv'{{.*}}x86
// POUT: lowbit-to-bundle-pipeline needs output=FILE
// METHOD: lowbit-quantize-pipeline: unknown method 'awq' (supported: rtn, gptq)

// An unfused dequantization is reported on the op; nothing is written.
module {
  func.func @forward(%ids: tensor<?xi32>, %pos: tensor<?xi32>) -> tensor<?x2xf32> {
    %t = lowbit.param "emb" {value = dense<1.0> : tensor<5x8xf32>} : tensor<5x8xf32>
    %h = lowbit.embedding %t, %ids : (tensor<5x8xf32>, tensor<?xi32>) -> tensor<?x8xf32>
    %q = lowbit.qparam "w" {codes = dense<3> : tensor<2x8xui4>, scales = dense<0.5> : tensor<2x1xf32>} : !lowbit.qweight<2x8, #lowbit.scheme<bits = 4, group_size = -1, symmetric = true, scale_type = f32>>
    // expected-error @below {{'lowbit.dequantize' op cannot be compiled for target x86: standalone dequantization is not supported (fuse it into lowbit.qmatmul)}}
    %w = lowbit.dequantize %q : !lowbit.qweight<2x8, #lowbit.scheme<bits = 4, group_size = -1, symmetric = true, scale_type = f32>> -> tensor<2x8xf32>
    %y = lowbit.linear %h, %w : (tensor<?x8xf32>, tensor<2x8xf32>) -> tensor<?x2xf32>
    return %y : tensor<?x2xf32>
  }
}
