// RUN: lowbit-opt %s -lowbit-legalize-for-target="target=cuda" -verify-diagnostics

// expected-error @below {{unknown target 'cuda' (available: x86)}}
module {
}
