// RUN: lowbit-opt %s -split-input-file -verify-diagnostics

// expected-error @below {{bits must be in [2, 8], got 9}}
func.func private @f() attributes {lowbit.s = #lowbit.scheme<bits = 9, group_size = 32, symmetric = true, scale_type = f16>}

// -----

// expected-error @below {{bits must be in [2, 8], got 1}}
func.func private @f() attributes {lowbit.s = #lowbit.scheme<bits = 1, group_size = 32, symmetric = true, scale_type = f16>}

// -----

// expected-error @below {{group size must be -1 (per-channel) or positive, got 0}}
func.func private @f() attributes {lowbit.s = #lowbit.scheme<bits = 4, group_size = 0, symmetric = true, scale_type = f16>}

// -----

// expected-error @below {{group size must be -1 (per-channel) or positive, got -4}}
func.func private @f() attributes {lowbit.s = #lowbit.scheme<bits = 4, group_size = -4, symmetric = true, scale_type = f16>}

// -----

// expected-error @below {{scale type must be f32, f16 or bf16, got 'i8'}}
func.func private @f() attributes {lowbit.s = #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = i8>}

// -----

// expected-error @below {{a symmetric scheme has implicit zero points and must not have a zero type (got 'i8')}}
func.func private @f() attributes {lowbit.s = #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f16, zero_type = i8>}

// -----

// expected-error @below {{an asymmetric scheme needs a zero type}}
func.func private @f() attributes {lowbit.s = #lowbit.scheme<bits = 4, group_size = 32, symmetric = false, scale_type = f16>}

// -----

// expected-error @below {{zero type 'i2' cannot hold 4-bit zero points}}
func.func private @f() attributes {lowbit.s = #lowbit.scheme<bits = 4, group_size = 32, symmetric = false, scale_type = f16, zero_type = i2>}

// -----

// A signed type needs one extra bit for zero points up to 2^bits - 1.
// expected-error @below {{zero type 'si8' cannot hold 8-bit zero points}}
func.func private @f() attributes {lowbit.s = #lowbit.scheme<bits = 8, group_size = 32, symmetric = false, scale_type = f16, zero_type = si8>}

// -----

// expected-error @below {{zero type must be an integer type or f32, f16 or bf16, got 'index'}}
func.func private @f() attributes {lowbit.s = #lowbit.scheme<bits = 4, group_size = 32, symmetric = false, scale_type = f16, zero_type = index>}

// -----

// expected-error @below {{zero_form = min needs an asymmetric scheme (a symmetric one has no stored minimum)}}
func.func private @f() attributes {lowbit.s = #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f16, zero_form = min>}

// -----

// expected-error @below {{zero_form = min stores float minimums: the zero type must be f32, f16 or bf16, got 'ui8'}}
func.func private @f() attributes {lowbit.s = #lowbit.scheme<bits = 4, group_size = 32, symmetric = false, scale_type = f16, zero_type = ui8, zero_form = min>}

// -----

// expected-error @below {{expected one of [zero_point, min] for how an asymmetric scheme's stored zero enters dequantization, got: offset}}
// expected-error @below {{failed to parse Lowbit_SchemeAttr parameter 'zero_form'}}
func.func private @f() attributes {lowbit.s = #lowbit.scheme<bits = 4, group_size = 32, symmetric = false, scale_type = f16, zero_type = f16, zero_form = offset>}

// -----

// expected-error @below {{super_group must be 0 (plain scales) or at least 2 groups, got 1}}
func.func private @f() attributes {lowbit.s = #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f16, super_group = 1>}

// -----

// expected-error @below {{super_group needs a positive group size (a per-channel scheme has one scale per row)}}
func.func private @f() attributes {lowbit.s = #lowbit.scheme<bits = 4, group_size = -1, symmetric = true, scale_type = f16, super_group = 8>}

// -----

// expected-error @below {{super_group does not combine with act_order}}
func.func private @f() attributes {lowbit.s = #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f16, act_order = true, super_group = 8>}

// -----

// expected-error @below {{super_group needs f16 or bf16 super-block scales (their products with 8-bit codes are exact in f32), got 'f32'}}
func.func private @f() attributes {lowbit.s = #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32, super_group = 8>}

// -----

// expected-error @below {{super_group needs integer zero points (zero_form = zero_point and an integer zero type)}}
func.func private @f() attributes {lowbit.s = #lowbit.scheme<bits = 4, group_size = 32, symmetric = false, scale_type = f16, zero_type = f16, zero_form = min, super_group = 8>}
