//===- Passes.td - lowbit passes ---------------------------*- tablegen -*-===//
//
// Every lowbit pass is declared here (keep alphabetical by flag), implemented
// in one file under passes/<Group>/ and registered by registerLowbitPasses().
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_PASSES_PASSES_TD
#define LOWBIT_PASSES_PASSES_TD

include "mlir/Pass/PassBase.td"

//===----------------------------------------------------------------------===//
// Fusion
//===----------------------------------------------------------------------===//

def LowbitFuseDequantMatmul : Pass<"lowbit-fuse-dequant-matmul"> {
  let summary = "fuse lowbit.dequantize into the lowbit.linear that uses it";
  let description = [{
    Rewrites `lowbit.linear %x, (lowbit.dequantize %q)` into
    `lowbit.qmatmul %x, %q`, so no float copy of the weight is ever
    materialized and targets see the scheme at the matmul. A dequantized
    weight that still has other users keeps its `lowbit.dequantize`.

    Before:

    ```mlir
    %w = lowbit.dequantize %q : !lowbit.qweight<32x64, #s> -> tensor<32x64xf32>
    %y = lowbit.linear %x, %w : (tensor<?x64xf32>, tensor<32x64xf32>) -> tensor<?x32xf32>
    ```

    After:

    ```mlir
    %y = lowbit.qmatmul %x, %q : (tensor<?x64xf32>, !lowbit.qweight<32x64, #s>) -> tensor<?x32xf32>
    ```
  }];
  let dependentDialects = ["::mlir::lowbit::LowbitDialect"];
}

#endif // LOWBIT_PASSES_PASSES_TD
