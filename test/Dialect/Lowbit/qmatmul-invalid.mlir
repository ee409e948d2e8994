// RUN: lowbit-opt %s -split-input-file -verify-diagnostics

func.func @k(%x: tensor<?x64xf32>, %q: !lowbit.qweight<64x172, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f16>>) {
  // expected-error @below {{input feature size 64 does not match weight K = 172}}
  %y = lowbit.qmatmul %x, %q : (tensor<?x64xf32>, !lowbit.qweight<64x172, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f16>>) -> tensor<?x64xf32>
  return
}

// -----

func.func @n(%x: tensor<?x172xf32>, %q: !lowbit.qweight<64x172, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f16>>) {
  // expected-error @below {{result feature size 172 does not match weight N = 64}}
  %y = lowbit.qmatmul %x, %q : (tensor<?x172xf32>, !lowbit.qweight<64x172, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f16>>) -> tensor<?x172xf32>
  return
}

// -----

func.func @act_bits(%x: tensor<?x172xf32>, %q: !lowbit.qweight<64x172, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f16>>) {
  // expected-error @below {{attribute 'act_bits' failed to satisfy constraint: 64-bit signless integer attribute whose minimum value is 2 whose maximum value is 8}}
  %y = lowbit.qmatmul %x, %q {act_bits = 16 : i64} : (tensor<?x172xf32>, !lowbit.qweight<64x172, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f16>>) -> tensor<?x64xf32>
  return
}
