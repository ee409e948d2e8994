//===- Signature.h - Ed25519 signatures of a bundle's code ------*- C++ -*-===//
//
// Part of the lowbit runtime. This header does not depend on LLVM or MLIR.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// A bundle carries native code, so opening one runs code. A signed bundle
/// has a `signature` section (docs/bundle-format.md, "Signature"): an
/// Ed25519 signature, by the key of whoever compiled it, over a statement
/// that binds the manifest and every code blob (their SHA-256 digests,
/// targets, formats and sizes). The runtime, given trusted public keys
/// (LOWBIT_TRUSTED_KEYS, lowbit_rt_model_options.trusted_keys), loads native
/// code only from bundles whose signature verifies against one of them.
///
/// Keys are PEM files as written by OpenSSL:
///
///     openssl genpkey -algorithm ed25519 -out signing-key.pem
///     openssl pkey -in signing-key.pem -pubout -out signing-key.pub.pem
///
/// Built on OpenSSL 3's libcrypto (EVP_PKEY Ed25519, EVP_DigestSign with no
/// digest, SHA-256); library lowbitrt_trust. Ed25519 is deterministic, so
/// the same key and contents always give the same signature (and bundle).
///
//===----------------------------------------------------------------------===//

#ifndef LOWBITRT_SIGNATURE_H
#define LOWBITRT_SIGNATURE_H

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace lowbit::rt {

class Bundle;

/// One code blob as the signature covers it.
struct SignedCode {
  std::string_view target;
  std::string_view format;
  const uint8_t *data = nullptr;
  uint64_t size = 0;
};

/// The bytes an Ed25519 signature of a bundle signs (docs/bundle-format.md):
/// a fixed prefix, the manifest's size and SHA-256, then per code blob in
/// table order its target, format, size and SHA-256.
std::vector<uint8_t> signedStatement(std::string_view manifest,
                                     const std::vector<SignedCode> &codes);

/// Signs the manifest and code blobs with the Ed25519 private key in the PEM
/// file \p keyPath, giving the signature record for BundleWriter::
/// setSignature. False with \p err set (naming the key file) on failure.
bool signBundle(const std::string &keyPath, std::string_view manifest,
                const std::vector<SignedCode> &codes,
                std::vector<uint8_t> &record, std::string &err);

/// The hex SHA-256 of a raw 32-byte Ed25519 public key, first 16 digits: how
/// errors and `lowbit-run` name keys.
std::string keyFingerprint(const uint8_t publicKey[32]);

/// Checks \p bundle's signature against the trusted public keys in the PEM
/// files \p keyPaths. False with \p err set when a key file cannot be read
/// or is not an Ed25519 public key, when the bundle is not signed, when it
/// is signed by a key not among them, or when the signature does not verify
/// (a changed manifest or code blob, a damaged signature).
bool verifyBundleSignature(const Bundle &bundle,
                           const std::vector<std::string> &keyPaths,
                           std::string &err);

} // namespace lowbit::rt

#endif // LOWBITRT_SIGNATURE_H
