//===- Signature.cpp - Ed25519 signatures of a bundle's code --------------===//
//
// Part of the lowbit runtime. This file does not depend on LLVM or MLIR.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// OpenSSL 3 libcrypto: PEM key files, Ed25519 through EVP_PKEY (one-shot
/// EVP_DigestSign / EVP_DigestVerify with a null digest, as Ed25519 is
/// specified), SHA-256 through EVP_Digest. Every OpenSSL object is owned by
/// a unique_ptr, so every path frees it.
///
//===----------------------------------------------------------------------===//

#include "lowbitrt/Signature.h"

#include "../bundle/BundleFormat.h"
#include "lowbitrt/Bundle.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <cstring>
#include <memory>

using namespace lowbit::rt;

namespace {

constexpr char kStatementPrefix[] = "lowbit bundle signature v1\n";
constexpr size_t kKeyBytes = 32, kSigBytes = 64;

struct PkeyFree {
  void operator()(EVP_PKEY *p) const { EVP_PKEY_free(p); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX *p) const { EVP_MD_CTX_free(p); }
};
struct BioFree {
  void operator()(BIO *p) const { BIO_free(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

/// The last OpenSSL error as text ("" if none), clearing the queue.
std::string opensslError() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (!e)
    return "";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof(buf));
  return std::string(" (") + buf + ")";
}

void putU32(std::vector<uint8_t> &out, uint32_t v) {
  for (int i = 0; i < 4; ++i)
    out.push_back(uint8_t(v >> (8 * i)));
}
void putU64(std::vector<uint8_t> &out, uint64_t v) {
  putU32(out, uint32_t(v));
  putU32(out, uint32_t(v >> 32));
}
void putSha256(std::vector<uint8_t> &out, const void *data, uint64_t size) {
  unsigned char md[32];
  unsigned int len = 0;
  static const unsigned char kEmpty = 0;
  EVP_Digest(size ? data : &kEmpty, size_t(size), md, &len, EVP_sha256(),
             nullptr);
  out.insert(out.end(), md, md + 32);
}
void putString(std::vector<uint8_t> &out, std::string_view s) {
  putU32(out, uint32_t(s.size()));
  out.insert(out.end(), s.begin(), s.end());
}

/// Reads a PEM key file: a private key when \p isPrivate, else a public
/// key; either must be Ed25519.
Pkey readKey(const std::string &path, bool isPrivate, std::string &err) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new_file(path.c_str(), "r"));
  if (!bio) {
    err = path + ": cannot open key file: " + std::strerror(errno);
    ERR_clear_error();
    return nullptr;
  }
  Pkey key(isPrivate
               ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr)
               : PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  if (!key) {
    err = path + ": not a PEM " +
          std::string(isPrivate ? "private" : "public") + " key" +
          opensslError() +
          (isPrivate ? "" : "; export one with `openssl pkey -in KEY -pubout`");
    return nullptr;
  }
  if (EVP_PKEY_get_id(key.get()) != EVP_PKEY_ED25519) {
    err = path + ": not an Ed25519 key (make one with `openssl genpkey "
                 "-algorithm ed25519`)";
    return nullptr;
  }
  return key;
}

bool rawPublicKey(EVP_PKEY *key, uint8_t out[kKeyBytes]) {
  size_t len = kKeyBytes;
  return EVP_PKEY_get_raw_public_key(key, out, &len) == 1 && len == kKeyBytes;
}

} // namespace

std::vector<uint8_t>
lowbit::rt::signedStatement(std::string_view manifest,
                            const std::vector<SignedCode> &codes) {
  std::vector<uint8_t> out(kStatementPrefix,
                           kStatementPrefix + sizeof(kStatementPrefix) - 1);
  putU64(out, manifest.size());
  putSha256(out, manifest.data(), manifest.size());
  putU32(out, uint32_t(codes.size()));
  for (const SignedCode &c : codes) {
    putString(out, c.target);
    putString(out, c.format);
    putU64(out, c.size);
    putSha256(out, c.data, c.size);
  }
  return out;
}

std::string lowbit::rt::keyFingerprint(const uint8_t publicKey[32]) {
  unsigned char md[32];
  unsigned int len = 0;
  EVP_Digest(publicKey, kKeyBytes, md, &len, EVP_sha256(), nullptr);
  static const char kHex[] = "0123456789abcdef";
  std::string s;
  for (int i = 0; i < 8; ++i) {
    s += kHex[md[i] >> 4];
    s += kHex[md[i] & 15];
  }
  return s;
}

bool lowbit::rt::signBundle(const std::string &keyPath,
                            std::string_view manifest,
                            const std::vector<SignedCode> &codes,
                            std::vector<uint8_t> &record, std::string &err) {
  Pkey key = readKey(keyPath, /*isPrivate=*/true, err);
  if (!key)
    return false;
  std::vector<uint8_t> statement = signedStatement(manifest, codes);
  record.assign(bundle::kSignatureRecordSize, 0);
  bundle::writeU32(record.data(), bundle::kSignatureEd25519);
  if (!rawPublicKey(key.get(), record.data() + 8)) {
    err = keyPath + ": cannot read its public key" + opensslError();
    return false;
  }
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  size_t sigLen = kSigBytes;
  if (!ctx ||
      EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) !=
          1 ||
      EVP_DigestSign(ctx.get(), record.data() + 40, &sigLen, statement.data(),
                     statement.size()) != 1 ||
      sigLen != kSigBytes) {
    err = keyPath + ": signing failed" + opensslError();
    return false;
  }
  return true;
}

bool lowbit::rt::verifyBundleSignature(const Bundle &bundle,
                                       const std::vector<std::string> &keyPaths,
                                       std::string &err) {
  std::string_view rec = bundle.signature();
  if (rec.empty()) {
    err = "the bundle is not signed";
    return false;
  }
  // The record's structure was checked when the bundle was opened.
  const auto *r = reinterpret_cast<const uint8_t *>(rec.data());
  const uint8_t *signer = r + 8, *sig = r + 40;
  Pkey match;
  std::string trusted;
  for (const std::string &path : keyPaths) {
    Pkey key = readKey(path, /*isPrivate=*/false, err);
    if (!key)
      return false;
    uint8_t raw[kKeyBytes];
    if (!rawPublicKey(key.get(), raw)) {
      err = path + ": cannot read the public key" + opensslError();
      return false;
    }
    trusted += (trusted.empty() ? "" : ", ") + keyFingerprint(raw);
    if (!match && std::memcmp(raw, signer, kKeyBytes) == 0)
      match = std::move(key);
  }
  if (!match) {
    err = "the bundle is signed by key " + keyFingerprint(signer) +
          ", which is not a trusted key (trusted: " + trusted + ")";
    return false;
  }
  std::vector<SignedCode> codes;
  for (const BundleCode &c : bundle.codes())
    codes.push_back({c.target, c.format, c.data, c.size});
  std::vector<uint8_t> statement = signedStatement(bundle.manifest(), codes);
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr,
                                   match.get()) != 1) {
    err = "cannot set up signature verification" + opensslError();
    return false;
  }
  int ok = EVP_DigestVerify(ctx.get(), sig, kSigBytes, statement.data(),
                            statement.size());
  ERR_clear_error();
  if (ok != 1) {
    err = "the signature by key " + keyFingerprint(signer) +
          " does not match the manifest and code blobs (the bundle was "
          "changed after signing, or the signature is damaged)";
    return false;
  }
  return true;
}
