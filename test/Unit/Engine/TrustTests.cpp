//===- TrustTests.cpp - signed code sections, no-native-code mode -*- C++
//-*-===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
//
// Issue 11.8: a bundle's code blob is native code. With trusted keys set
// (lowbit_rt_model_options.trusted_keys or LOWBIT_TRUSTED_KEYS) it is loaded
// only from bundles signed by one of them; with no_native_code (or
// LOWBIT_NO_NATIVE_CODE=1) it is never loaded and everything runs on `cpu`.
// The Ed25519 keys are generated at test time with the openssl CLI; no
// private key is committed.
//
//===----------------------------------------------------------------------===//

#include "TinyModel.h"
#include "lowbitrt/Bundle.h"
#include "lowbitrt/Signature.h"
#include "lowbitrt/lowbit_rt.h"

#include "gtest/gtest.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <unistd.h>

using namespace tiny;
namespace rt = lowbit::rt;
using json = nlohmann::json;

namespace {

std::string tempPath(const std::string &name) {
  return ::testing::TempDir() + "trust-test-" + std::to_string(getpid()) + "-" +
         name;
}

/// A fresh Ed25519 key pair from the openssl CLI: {private, public} PEM
/// paths.
std::pair<std::string, std::string> makeKey(const std::string &name) {
  std::string priv = tempPath(name + ".pem"), pub = tempPath(name + ".pub.pem");
  std::string cmd = "openssl genpkey -algorithm ed25519 -out '" + priv +
                    "' 2>/dev/null && openssl pkey -in '" + priv +
                    "' -pubout -out '" + pub + "' 2>/dev/null";
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  return {priv, pub};
}

struct Keys {
  std::pair<std::string, std::string> a, b;
  Keys() : a(makeKey("a")), b(makeKey("b")) {}
  ~Keys() {
    for (const std::string &p : {a.first, a.second, b.first, b.second})
      std::remove(p.c_str());
  }
};
const Keys &keys() {
  static Keys k;
  return k;
}

/// Serializes the tiny model, optionally with a signature record and with
/// its code blob replaced by \p code.
std::vector<uint8_t> bundleBytes(const std::vector<uint8_t> &signature,
                                 const std::vector<char> *code = nullptr,
                                 const std::string &manifest = "") {
  const TinyModel &tm = TinyModel::get();
  const std::vector<char> &lib = code ? *code : tm.kernelLib;
  rt::BundleWriter w;
  w.setManifest(manifest.empty() ? tm.manifest.dump() : manifest);
  for (const auto &[name, t] : tm.tensors)
    w.addTensor(name, t.dtype, t.shape, t.bytes.data(), t.bytes.size());
  w.addCode("x86", "x86-elf-so-v1", lib.data(), lib.size());
  w.setSignature(signature);
  std::vector<uint8_t> out;
  std::string err;
  EXPECT_TRUE(w.writeToBuffer(out, err)) << err;
  return out;
}

/// The signature record of the tiny model's manifest and code by \p key.
std::vector<uint8_t> signTiny(const std::string &key,
                              const std::vector<char> *code = nullptr) {
  const TinyModel &tm = TinyModel::get();
  const std::vector<char> &lib = code ? *code : tm.kernelLib;
  std::string manifest = tm.manifest.dump();
  std::vector<uint8_t> record;
  std::string err;
  EXPECT_TRUE(rt::signBundle(
      key, manifest,
      {{"x86", "x86-elf-so-v1", reinterpret_cast<const uint8_t *>(lib.data()),
        lib.size()}},
      record, err))
      << err;
  EXPECT_EQ(record.size(), 104u);
  return record;
}

std::string writeFile(const std::vector<uint8_t> &bytes,
                      const std::string &name) {
  std::string p = tempPath(name + ".lowbit");
  std::ofstream(p, std::ios::binary)
      .write(reinterpret_cast<const char *>(bytes.data()),
             std::streamsize(bytes.size()));
  return p;
}

struct Opened {
  lowbit_rt_status status;
  std::string error;
  std::string device;
  std::string isa;
};

Opened open(const std::vector<uint8_t> &bytes, const char *trustedKeys,
            bool noNative = false) {
  std::string p = writeFile(bytes, "open");
  lowbit_rt_model_options mo{};
  mo.trusted_keys = trustedKeys;
  mo.no_native_code = noNative ? 1 : 0;
  lowbit_rt_model *m = nullptr;
  Opened r;
  r.status = lowbit_rt_model_open_ex(p.c_str(), &mo, &m);
  if (r.status == LOWBIT_RT_OK) {
    lowbit_rt_device_info dev;
    EXPECT_EQ(lowbit_rt_model_get_device(m, &dev), LOWBIT_RT_OK);
    r.device = dev.device;
    r.isa = dev.description;
  } else {
    r.error = lowbit_rt_last_error();
  }
  lowbit_rt_model_free(m);
  std::remove(p.c_str());
  return r;
}

void expectUntrusted(const Opened &r, const char *mention) {
  EXPECT_EQ(r.status, LOWBIT_RT_UNTRUSTED) << r.error;
  EXPECT_NE(r.error.find("code blob 'x86' is not loaded"), std::string::npos)
      << r.error;
  EXPECT_NE(r.error.find(mention), std::string::npos)
      << "'" << mention << "' not in: " << r.error;
}

TEST(Trust, SignedBundleOpensWithItsKey) {
  const Keys &k = keys();
  std::vector<uint8_t> b = bundleBytes(signTiny(k.a.first));
  Opened r = open(b, k.a.second.c_str());
  ASSERT_EQ(r.status, LOWBIT_RT_OK) << r.error;
  EXPECT_EQ(r.device, "x86");
  EXPECT_NE(r.isa, "none"); // the kernels were loaded and bound
  // Among several trusted keys.
  std::string both = k.b.second + ":" + k.a.second;
  EXPECT_EQ(open(b, both.c_str()).status, LOWBIT_RT_OK);
}

TEST(Trust, UnsignedRefusedWhenKeysAreSet) {
  expectUntrusted(open(bundleBytes({}), keys().a.second.c_str()),
                  "the bundle is not signed");
}

TEST(Trust, WrongKeyRefused) {
  const Keys &k = keys();
  expectUntrusted(open(bundleBytes(signTiny(k.b.first)), k.a.second.c_str()),
                  "which is not a trusted key");
}

TEST(Trust, FlippedSignatureByteRefused) {
  const Keys &k = keys();
  const std::vector<uint8_t> good = signTiny(k.a.first);
  // Every byte of the 64-byte signature (the record's checksum is
  // recomputed by the writer, so only the signature check can catch it).
  for (size_t at = 40; at < 104; at += 7) {
    std::vector<uint8_t> bad = good;
    bad[at] ^= 0x01;
    expectUntrusted(open(bundleBytes(bad), k.a.second.c_str()),
                    "does not match the manifest and code blobs");
  }
  // A flipped byte of the signer's public key: another (untrusted) key.
  std::vector<uint8_t> bad = good;
  bad[8] ^= 0x80;
  expectUntrusted(open(bundleBytes(bad), k.a.second.c_str()),
                  "which is not a trusted key");
}

TEST(Trust, ChangedCodeOrManifestRefused) {
  const Keys &k = keys();
  const std::vector<uint8_t> record = signTiny(k.a.first);
  // The code blob changed after signing (one byte of its padding region at
  // the end, so the library itself still loads).
  std::vector<char> code = TinyModel::get().kernelLib;
  code.push_back(0);
  expectUntrusted(open(bundleBytes(record, &code), k.a.second.c_str()),
                  "does not match");
  json m = TinyModel::get().manifest;
  m["config"]["eos_token_id"] = 2;
  expectUntrusted(
      open(bundleBytes(record, nullptr, m.dump()), k.a.second.c_str()),
      "does not match");
}

TEST(Trust, NoKeysIsTodaysBehaviour) {
  const Keys &k = keys();
  for (const auto &b : {bundleBytes({}), bundleBytes(signTiny(k.a.first))}) {
    Opened r = open(b, nullptr);
    ASSERT_EQ(r.status, LOWBIT_RT_OK) << r.error;
    EXPECT_EQ(r.device, "x86");
  }
  // An empty option and an empty variable are "no keys" too.
  EXPECT_EQ(open(bundleBytes({}), "").status, LOWBIT_RT_OK);
}

TEST(Trust, EnvironmentVariables) {
  const Keys &k = keys();
  ASSERT_EQ(setenv("LOWBIT_TRUSTED_KEYS", k.a.second.c_str(), 1), 0);
  std::string p = writeFile(bundleBytes({}), "env");
  lowbit_rt_model *m = nullptr;
  EXPECT_EQ(lowbit_rt_model_open(p.c_str(), &m), LOWBIT_RT_UNTRUSTED);
  ASSERT_EQ(setenv("LOWBIT_NO_NATIVE_CODE", "1", 1), 0);
  EXPECT_EQ(lowbit_rt_model_open(p.c_str(), &m), LOWBIT_RT_OK)
      << lowbit_rt_last_error();
  lowbit_rt_device_info dev;
  ASSERT_EQ(lowbit_rt_model_get_device(m, &dev), LOWBIT_RT_OK);
  EXPECT_STREQ(dev.device, "cpu");
  lowbit_rt_model_free(m);
  unsetenv("LOWBIT_NO_NATIVE_CODE");
  unsetenv("LOWBIT_TRUSTED_KEYS");
  m = nullptr;
  EXPECT_EQ(lowbit_rt_model_open(p.c_str(), &m), LOWBIT_RT_OK);
  lowbit_rt_model_free(m);
  std::remove(p.c_str());
}

TEST(Trust, NoNativeCodeNeverLoadsTheBlob) {
  // A code blob that is not even an ELF file: the x86 driver rejects it, but
  // without native code it is never looked at.
  std::vector<char> garbage(4096, '\x5a');
  std::vector<uint8_t> b = bundleBytes({}, &garbage);
  Opened x86 = open(b, nullptr);
  EXPECT_EQ(x86.status, LOWBIT_RT_FORMAT) << x86.error;
  Opened cpu = open(b, keys().a.second.c_str(), /*noNative=*/true);
  ASSERT_EQ(cpu.status, LOWBIT_RT_OK) << cpu.error;
  EXPECT_EQ(cpu.device, "cpu");

  // And it computes what x86 computes, within the fp32 tolerance of the
  // two devices (CtsBundle's bound), with the same argmax.
  std::vector<uint8_t> good = bundleBytes({});
  std::string p = writeFile(good, "logits");
  std::vector<int32_t> tokens = {3, 17, 5, 40, 22};
  std::vector<float> logits[2];
  for (int noNative = 0; noNative < 2; ++noNative) {
    lowbit_rt_model_options mo{};
    mo.no_native_code = noNative;
    lowbit_rt_model *m = nullptr;
    ASSERT_EQ(lowbit_rt_model_open_ex(p.c_str(), &mo, &m), LOWBIT_RT_OK);
    lowbit_rt_session *s = nullptr;
    ASSERT_EQ(lowbit_rt_session_create(m, nullptr, &s), LOWBIT_RT_OK);
    logits[noNative].resize(tokens.size() * kVocab);
    ASSERT_EQ(lowbit_rt_prefill(s, tokens.data(), int64_t(tokens.size()),
                                logits[noNative].data()),
              LOWBIT_RT_OK);
    lowbit_rt_session_free(s);
    lowbit_rt_model_free(m);
  }
  std::remove(p.c_str());
  float maxAbs = 0, maxDiff = 0;
  for (size_t i = 0; i < logits[0].size(); ++i) {
    maxAbs = std::max(maxAbs, std::fabs(logits[0][i]));
    maxDiff = std::max(maxDiff, std::fabs(logits[0][i] - logits[1][i]));
  }
  EXPECT_LE(maxDiff, 1e-4f * maxAbs);
  for (size_t t = 0; t < tokens.size(); ++t) {
    auto row = [&](int d) { return logits[d].begin() + long(t * kVocab); };
    EXPECT_EQ(std::max_element(row(0), row(0) + kVocab) - row(0),
              std::max_element(row(1), row(1) + kVocab) - row(1));
  }

  // Asking for x86 without native code is a contradiction.
  lowbit_rt_model_options mo{};
  mo.device = "x86";
  mo.no_native_code = 1;
  lowbit_rt_model *m = nullptr;
  std::string q = writeFile(good, "contra");
  EXPECT_EQ(lowbit_rt_model_open_ex(q.c_str(), &mo, &m),
            LOWBIT_RT_INVALID_ARGUMENT);
  EXPECT_NE(std::string(lowbit_rt_last_error()).find("without native code"),
            std::string::npos);
  std::remove(q.c_str());
}

TEST(Trust, SigningIsDeterministicAndLeavesTheRestAlone) {
  const Keys &k = keys();
  std::vector<uint8_t> s1 = bundleBytes(signTiny(k.a.first));
  std::vector<uint8_t> s2 = bundleBytes(signTiny(k.a.first));
  EXPECT_EQ(s1, s2);
  // The signature section is the only difference.
  std::vector<uint8_t> u = bundleBytes({});
  std::string err;
  auto signedB = rt::Bundle::fromMemory(s1.data(), s1.size(), err);
  ASSERT_TRUE(signedB) << err;
  auto unsignedB = rt::Bundle::fromMemory(u.data(), u.size(), err);
  ASSERT_TRUE(unsignedB) << err;
  EXPECT_EQ(signedB->signature().size(), 104u);
  EXPECT_TRUE(unsignedB->signature().empty());
  EXPECT_EQ(signedB->manifest(), unsignedB->manifest());
  ASSERT_EQ(signedB->codes().size(), 1u);
  EXPECT_EQ(
      std::string_view(reinterpret_cast<const char *>(signedB->codes()[0].data),
                       signedB->codes()[0].size),
      std::string_view(
          reinterpret_cast<const char *>(unsignedB->codes()[0].data),
          unsignedB->codes()[0].size));
  EXPECT_TRUE(signedB->verify(err)) << err;
  // Verification through the library, directly.
  EXPECT_TRUE(rt::verifyBundleSignature(*signedB, {k.a.second}, err)) << err;
  EXPECT_FALSE(rt::verifyBundleSignature(*unsignedB, {k.a.second}, err));
  EXPECT_NE(err.find("not signed"), std::string::npos);
}

TEST(Trust, MalformedSignatureRecords) {
  const Keys &k = keys();
  std::string err;
  // Wrong size: the writer refuses it.
  rt::BundleWriter w;
  w.setManifest("{}");
  w.setSignature(std::vector<uint8_t>(50, 1));
  std::vector<uint8_t> out;
  EXPECT_FALSE(w.writeToBuffer(out, err));
  EXPECT_NE(err.find("signature record has 50 bytes"), std::string::npos)
      << err;
  // Unknown algorithm and non-zero reserved field: the reader refuses them.
  std::vector<uint8_t> rec = signTiny(k.a.first);
  rec[0] = 2;
  std::vector<uint8_t> b = bundleBytes(rec);
  EXPECT_FALSE(rt::Bundle::fromMemory(b.data(), b.size(), err));
  EXPECT_NE(err.find("unknown signature algorithm 2"), std::string::npos)
      << err;
  rec = signTiny(k.a.first);
  rec[5] = 1;
  b = bundleBytes(rec);
  EXPECT_FALSE(rt::Bundle::fromMemory(b.data(), b.size(), err));
  EXPECT_NE(err.find("reserved field is not zero"), std::string::npos) << err;
  // A damaged record is a checksum mismatch like any other part.
  b = bundleBytes(signTiny(k.a.first));
  b[b.size() - 1] ^= 1;
  EXPECT_FALSE(rt::Bundle::fromMemory(b.data(), b.size(), err));
  EXPECT_NE(err.find("signature: checksum mismatch"), std::string::npos) << err;
  // Key files that are not Ed25519 public keys.
  auto good = bundleBytes(signTiny(k.a.first));
  Opened r = open(good, k.a.first.c_str()); // a private key
  expectUntrusted(r, "not a PEM public key");
  r = open(good, "/nonexistent/key.pem");
  expectUntrusted(r, "cannot open key file");
}

} // namespace
