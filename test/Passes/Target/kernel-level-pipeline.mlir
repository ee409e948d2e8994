// The kernel level end to end on a tiny RTN-quantized model with two
// identical decoder blocks: the IR after layout selection, after packing,
// after outlining (two blocks -> one kernel per distinct matmul) and after
// translation to x86 code.
//
// RUN: lowbit-opt %s -lowbit-rtn-quantize="bits=4 group-size=16" -lowbit-fuse-dequant-matmul -lowbit-legalize-for-target="target=x86 features=avx2,f16c,fma" -lowbit-select-layouts | FileCheck %s --check-prefix=LAYOUT
// RUN: lowbit-opt %s -lowbit-rtn-quantize="bits=4 group-size=16" -lowbit-fuse-dequant-matmul -lowbit-legalize-for-target="target=x86 features=avx2,f16c,fma" -lowbit-select-layouts -lowbit-materialize-packs | FileCheck %s --check-prefix=PACK
// RUN: lowbit-opt %s -lowbit-rtn-quantize="bits=4 group-size=16" -lowbit-fuse-dequant-matmul -lowbit-legalize-for-target="target=x86 features=avx2,f16c,fma" -lowbit-select-layouts -lowbit-materialize-packs -lowbit-outline-kernels | FileCheck %s --check-prefix=OUTLINE
// RUN: lowbit-opt %s -lowbit-rtn-quantize="bits=4 group-size=16" -lowbit-fuse-dequant-matmul -lowbit-legalize-for-target="target=x86 features=avx2,f16c,fma" -lowbit-select-layouts -lowbit-materialize-packs -lowbit-outline-kernels -lowbit-translate-executables --mlir-elide-resource-strings-if-larger=64 | FileCheck %s --check-prefix=BINARY
// RUN: lowbit-opt %s -lowbit-rtn-quantize="bits=4 group-size=16" -lowbit-fuse-dequant-matmul -lowbit-legalize-for-target="target=x86 features=avx2,f16c,fma" -lowbit-select-layouts -lowbit-materialize-packs -lowbit-outline-kernels -lowbit-translate-executables | FileCheck %s --check-prefix=ELF

// LAYOUT: #[[S:.*]] = #lowbit.scheme<bits = 4, group_size = 16, symmetric = false, scale_type = f32, zero_type = ui8>
// LAYOUT: #[[T:.*]] = #lowbit.target<"x86", features = ["avx2", "f16c", "fma"]>
// LAYOUT: module attributes {lowbit.target = #[[T]]}
// LAYOUT-LABEL: func.func @forward
// LAYOUT: lowbit.linear
// LAYOUT-LABEL: func.func private @layer0
// LAYOUT: %[[U:.*]] = lowbit.qparam "model.layers.0.mlp.up_proj"
// LAYOUT: lowbit.qmatmul %{{.*}}, %[[U]] {lowbit.layout = "x86-tile16-v1"} : (tensor<?x32xf32>, !lowbit.qweight<48x32, #[[S]]>) -> tensor<?x48xf32>
// LAYOUT: %[[D:.*]] = lowbit.qparam "model.layers.0.mlp.down_proj"
// LAYOUT: lowbit.qmatmul %{{.*}}, %[[D]] {lowbit.layout = "x86-tile16-v1"} : (tensor<?x48xf32>, !lowbit.qweight<32x48, #[[S]]>) -> tensor<?x32xf32>
// LAYOUT-LABEL: func.func private @layer1
// LAYOUT-COUNT-2: lowbit.qmatmul {{.*}} {lowbit.layout = "x86-tile16-v1"}
// LAYOUT-NOT: lowbit.pack

// PACK-LABEL: func.func private @layer0
// PACK: %[[U:.*]] = lowbit.qparam "model.layers.0.mlp.up_proj"
// PACK-NEXT: lowbit.pack %[[U]] : !lowbit.qweight<48x32, #[[S:.*]]> -> !lowbit.packed<48x32, #[[S]], "x86-tile16-v1">
// PACK-NEXT: lowbit.qmatmul %{{.*}}, %[[U]] {lowbit.layout = "x86-tile16-v1"}
// PACK: %[[D:.*]] = lowbit.qparam "model.layers.0.mlp.down_proj"
// PACK-NEXT: lowbit.pack %[[D]] : !lowbit.qweight<32x48, #[[S]]> -> !lowbit.packed<32x48, #[[S]], "x86-tile16-v1">
// PACK-NEXT: lowbit.qmatmul %{{.*}}, %[[D]]
// PACK-LABEL: func.func private @layer1
// PACK-COUNT-2: lowbit.pack
// PACK-NOT: lowbit.executable

// OUTLINE: module attributes {lowbit.target = #[[T:.*]]} {
// OUTLINE-NEXT: lowbit.executable @x86 target(#[[T]]) {
// OUTLINE-NEXT: lowbit.kernel @qmatmul_n48_k32_b4_g16 qmatmul n = 48, k = 32, layout = "x86-tile16-v1", scheme = #[[S:.*]]
// OUTLINE-NEXT: lowbit.kernel @qmatmul_n32_k48_b4_g16 qmatmul n = 32, k = 48, layout = "x86-tile16-v1", scheme = #[[S]]
// OUTLINE-NEXT: }
// OUTLINE-LABEL: func.func private @layer0
// OUTLINE: %[[PU:.*]] = lowbit.pack
// OUTLINE-NEXT: %[[Y:.*]] = lowbit.dispatch @x86::@qmatmul_n48_k32_b4_g16(%arg0, %[[PU]]) : (tensor<?x32xf32>, !lowbit.packed<48x32, #[[S]], "x86-tile16-v1">) -> tensor<?x48xf32>
// OUTLINE: %[[PD:.*]] = lowbit.pack
// OUTLINE-NEXT: lowbit.dispatch @x86::@qmatmul_n32_k48_b4_g16(%[[Y]], %[[PD]])
// OUTLINE-LABEL: func.func private @layer1
// OUTLINE: lowbit.dispatch @x86::@qmatmul_n48_k32_b4_g16(
// OUTLINE: lowbit.dispatch @x86::@qmatmul_n32_k48_b4_g16(
// OUTLINE-NOT: lowbit.qmatmul

// Unelided, the blob is an ELF file (alignment word, then "\x7fELF").
// ELF: dialect_resources: {
// ELF: x86_x86_elf_so_v1: "0x010000007F454C46

// BINARY: lowbit.executable @x86 target(#{{.*}}) {
// BINARY-NEXT: lowbit.kernel @qmatmul_n48_k32_b4_g16
// BINARY-NEXT: lowbit.kernel @qmatmul_n32_k48_b4_g16
// BINARY-NEXT: lowbit.binary "x86-elf-so-v1" dense_resource<x86_x86_elf_so_v1> : tensor<{{[0-9]+}}xui8>
// BINARY-NEXT: }
// BINARY-NOT: 0x

module {
  func.func @forward(%ids: tensor<?xi32>, %pos: tensor<?xi32>) -> tensor<?x16xf32> {
    %t = lowbit.param "model.embed_tokens.weight" {value = dense<0.5> : tensor<16x32xf32>} : tensor<16x32xf32>
    %h = lowbit.embedding %t, %ids : (tensor<16x32xf32>, tensor<?xi32>) -> tensor<?x32xf32>
    %o0 = call @layer0(%h, %pos) : (tensor<?x32xf32>, tensor<?xi32>) -> tensor<?x32xf32>
    %o1 = call @layer1(%o0, %pos) : (tensor<?x32xf32>, tensor<?xi32>) -> tensor<?x32xf32>
    %l = lowbit.linear %o1, %t : (tensor<?x32xf32>, tensor<16x32xf32>) -> tensor<?x16xf32>
    return %l : tensor<?x16xf32>
  }
  func.func private @layer0(%h: tensor<?x32xf32>, %pos: tensor<?xi32>) -> tensor<?x32xf32> {
    %w = lowbit.param "model.layers.0.mlp.up_proj.weight" {value = dense<0.25> : tensor<48x32xf32>} : tensor<48x32xf32>
    %y = lowbit.linear %h, %w : (tensor<?x32xf32>, tensor<48x32xf32>) -> tensor<?x48xf32>
    %w2 = lowbit.param "model.layers.0.mlp.down_proj.weight" {value = dense<-0.5> : tensor<32x48xf32>} : tensor<32x48xf32>
    %z = lowbit.linear %y, %w2 : (tensor<?x48xf32>, tensor<32x48xf32>) -> tensor<?x32xf32>
    return %z : tensor<?x32xf32>
  }
  func.func private @layer1(%h: tensor<?x32xf32>, %pos: tensor<?xi32>) -> tensor<?x32xf32> {
    %w = lowbit.param "model.layers.1.mlp.up_proj.weight" {value = dense<0.125> : tensor<48x32xf32>} : tensor<48x32xf32>
    %y = lowbit.linear %h, %w : (tensor<?x32xf32>, tensor<48x32xf32>) -> tensor<?x48xf32>
    %w2 = lowbit.param "model.layers.1.mlp.down_proj.weight" {value = dense<1.0> : tensor<32x48xf32>} : tensor<32x48xf32>
    %z = lowbit.linear %y, %w2 : (tensor<?x48xf32>, tensor<32x48xf32>) -> tensor<?x32xf32>
    return %z : tensor<?x32xf32>
  }
}
