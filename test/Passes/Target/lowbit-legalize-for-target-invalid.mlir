// RUN: lowbit-opt %s -split-input-file -lowbit-legalize-for-target -verify-diagnostics
// Bad options: lowbit-legalize-for-target-options-invalid.mlir.

// Every illegal op is reported, with the target's reason.
func.func @bits(%x: tensor<?x64xf32>) -> tensor<?x32xf32> {
  // expected-error @below {{'lowbit.qparam' op cannot be compiled for target x86: 5-bit weights are not supported (supported: 2, 3, 4, 8)}}
  %q = lowbit.qparam "w" : !lowbit.qweight<32x64, #lowbit.scheme<bits = 5, group_size = 32, symmetric = true, scale_type = f32>>
  // expected-error @below {{'lowbit.qmatmul' op cannot be compiled for target x86: 5-bit weights are not supported (supported: 2, 3, 4, 8)}}
  %y = lowbit.qmatmul %x, %q : (tensor<?x64xf32>, !lowbit.qweight<32x64, #lowbit.scheme<bits = 5, group_size = 32, symmetric = true, scale_type = f32>>) -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}

// -----

func.func @dequantize(%q: !lowbit.qweight<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>>) -> tensor<32x64xf32> {
  // expected-error @below {{'lowbit.dequantize' op cannot be compiled for target x86: standalone dequantization is not supported (fuse it into lowbit.qmatmul)}}
  %w = lowbit.dequantize %q : !lowbit.qweight<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>> -> tensor<32x64xf32>
  return %w : tensor<32x64xf32>
}

// -----

func.func @act_bits(%x: tensor<?x64xf32>, %q: !lowbit.qweight<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>>) -> tensor<?x32xf32> {
  // expected-error @below {{'lowbit.qmatmul' op cannot be compiled for target x86: activation quantization to 4 bits is not supported (supported: 8)}}
  %y = lowbit.qmatmul %x, %q {act_bits = 4 : i64} : (tensor<?x64xf32>, !lowbit.qweight<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>>) -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}

// -----

// expected-error @below {{module is already legalized for #lowbit.target<"cuda">, not #lowbit.target<"x86", features = ["avx2", "avx512bw", "avx512dq", "avx512f", "avx512vl", "avx512vnni", "avxvnni", "f16c", "fma"]>}}
module attributes {lowbit.target = #lowbit.target<"cuda">} {
}

// -----

// A kernel-level module: the packed layout must be x86's.
func.func @layout(%q: !lowbit.qweight<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>>) {
  // expected-error @below {{'lowbit.pack' op cannot be compiled for target x86: layout 'cuda-mma-v1' is not supported (supported: x86-tile16-v1)}}
  %p = lowbit.pack %q : !lowbit.qweight<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>> -> !lowbit.packed<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>, "cuda-mma-v1">
  return
}

// -----

// Float minimums (zero_form = min) go into the layout's offset slot, stored
// in the scale type: bf16 minimums do not fit f16 scales exactly. A float
// zero point (zero_form = zero_point) has no x86 kernel at all.
func.func @min_type(%x: tensor<?x64xf32>) -> tensor<?x32xf32> {
  // expected-error @below {{'lowbit.qparam' op cannot be compiled for target x86: minimum type bf16 is not exactly representable in the scale type f16}}
  %q = lowbit.qparam "w" : !lowbit.qweight<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = false, scale_type = f16, zero_type = bf16, zero_form = min>>
  // expected-error @below {{'lowbit.qmatmul' op cannot be compiled for target x86: minimum type bf16 is not exactly representable in the scale type f16}}
  %y = lowbit.qmatmul %x, %q : (tensor<?x64xf32>, !lowbit.qweight<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = false, scale_type = f16, zero_type = bf16, zero_form = min>>) -> tensor<?x32xf32>
  // expected-error @below {{'lowbit.qparam' op cannot be compiled for target x86: zero type f16 is not supported (asymmetric schemes need an integer zero type)}}
  %q2 = lowbit.qparam "w2" : !lowbit.qweight<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = false, scale_type = f16, zero_type = f16>>
  // expected-error @below {{'lowbit.qmatmul' op cannot be compiled for target x86: zero type f16 is not supported (asymmetric schemes need an integer zero type)}}
  %y2 = lowbit.qmatmul %x, %q2 : (tensor<?x64xf32>, !lowbit.qweight<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = false, scale_type = f16, zero_type = f16>>) -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}
