// RUN: rm -rf %t && mkdir -p %t
// RUN: printf 'abcdefghabcdefgh' > %t/c.bin
// RUN: lowbit-opt %s -lowbit-sensitivity -verify-diagnostics
// RUN: not lowbit-opt %s -lowbit-sensitivity="report=%t/r.json" 2>&1 | FileCheck %s --check-prefix=NOCALIB
// RUN: not lowbit-opt %s -lowbit-sensitivity="report=%t/r.json calib=%t/c.bin measure=some" 2>&1 | FileCheck %s --check-prefix=MEASURE
// RUN: not lowbit-opt %s -lowbit-sensitivity="report=%t/r.json calib=%t/c.bin bits=9" 2>&1 | FileCheck %s --check-prefix=BITS
// RUN: not lowbit-opt %s -lowbit-sensitivity="report=%t/r.json calib=%t/c.bin group-sizes=0" 2>&1 | FileCheck %s --check-prefix=GROUP
// RUN: not lowbit-opt %s -lowbit-sensitivity="report=%t/r.json calib=%t/c.bin bits=4,4" 2>&1 | FileCheck %s --check-prefix=TWICE
// RUN: not lowbit-opt %s -lowbit-sensitivity="report=%t/r.json calib=%t/c.bin bits=4,8" 2>&1 | FileCheck %s --check-prefix=ANCHOR
// RUN: not lowbit-opt %s -lowbit-sensitivity="report=%t/nodir/r.json calib=%t/c.bin" 2>&1 | FileCheck %s --check-prefix=REPORT
// RUN: not lowbit-opt %s -lowbit-sensitivity="report=%t/r.json calib=%t/c.bin seqlen=8" 2>&1 | FileCheck %s --check-prefix=SHORT
// RUN: not lowbit-opt %s -lowbit-sensitivity="report=%t/r.json calib=%t/c.bin seqlen=2 scale-type=f8" 2>&1 | FileCheck %s --check-prefix=SCALE
// RUN: not lowbit-opt %s -lowbit-sensitivity="report=%t/r.json calib=%t/c.bin rounding=awq" 2>&1 | FileCheck %s --check-prefix=ROUND
// RUN: not lowbit-opt %s -lowbit-sensitivity="report=%t/r.json calib=%t/c.bin damp=1" 2>&1 | FileCheck %s --check-prefix=DAMP
// RUN: not test -e %t/r.json
// ROUND: error: rounding must be rtn or gptq, got 'awq'
// DAMP: error: damp must be in [0, 1), got 1
// NOCALIB: error: lowbit-sensitivity needs calibration data: pass calib=FILE
// MEASURE: error: measure must be anchor, all or none, got 'some'
// BITS: error: bits must be in [2, 8], got 9
// GROUP: error: group size must be -1 (per-channel) or positive, got 0
// TWICE: error: candidate 4 bits, group 32 is listed twice
// ANCHOR: error: the anchor scheme (3 bits, group 128) is not among the candidates
// REPORT: error: {{.*}}nodir{{.*}}
// SHORT: error: {{.*}}c.bin: 4 tokens, fewer than one row of 8
// SCALE: error: {{.*}}f8{{.*}}

// expected-error @below {{lowbit-sensitivity writes its results to report=FILE; none was given}}
module {
  func.func @forward(%ids: tensor<?xi32>, %pos: tensor<?xi32>) -> tensor<?x4xf32> {
    %t = lowbit.param "model.embed_tokens.weight" {value = dense<0.5> : tensor<8x4xf32>} : tensor<8x4xf32>
    %h = lowbit.embedding %t, %ids : (tensor<8x4xf32>, tensor<?xi32>) -> tensor<?x4xf32>
    %o = call @layer0(%h, %pos) : (tensor<?x4xf32>, tensor<?xi32>) -> tensor<?x4xf32>
    return %o : tensor<?x4xf32>
  }
  func.func private @layer0(%h: tensor<?x4xf32>, %pos: tensor<?xi32>) -> tensor<?x4xf32> {
    %w = lowbit.param "model.layers.0.mlp.up_proj.weight" {value = dense<1.0> : tensor<4x4xf32>} : tensor<4x4xf32>
    %y = lowbit.linear %h, %w : (tensor<?x4xf32>, tensor<4x4xf32>) -> tensor<?x4xf32>
    return %y : tensor<?x4xf32>
  }
}
