//===- ParamResolver.h - parameter scopes of a context ----------*- C++ -*-===//
//
// Part of lowbit.
//
//===----------------------------------------------------------------------===//
//
// `lowbit.param "scope"::"key"` names a tensor by scope and key; the module
// records where each scope is stored in `lowbit.parameter_scopes`, with paths
// relative to the IR file's directory (docs/parameters.md). The
// ParamResolver of an MLIRContext turns those references into tensors:
//
//  - it resolves a scope's path against the base directory the tool set (the
//    IR file's directory) unless the tool overrides the scope
//    (`--param-scope NAME=PATH`);
//  - it opens each file once per context and caches it, so the quantization
//    passes, the executor and bundle emission share one SafetensorsStore;
//  - it holds the in-memory output scopes that quantization passes write, so
//    a later pass in the same process finds them through the IR alone.
//
// The resolver is owned by the LowbitDialect instance of the context (no
// global state); tools configure it through ParamResolverExtension or
// ParamResolver::get(ctx).configure(...).
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_PARAMS_PARAMRESOLVER_H
#define LOWBIT_PARAMS_PARAMRESOLVER_H

#include "lowbit/Dialect/Lowbit/IR/Lowbit.h"
#include "lowbit/Support/ParamStore.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/JSON.h"

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace lowbit {

/// Where a tool finds parameter scopes.
struct ParamResolverConfig {
  /// Directory scope paths are relative to ("" is the current directory).
  std::string baseDir;
  /// Scope name -> location replacing the recorded path (absolute, or
  /// relative to the current directory).
  std::map<std::string, std::string> overrides;
};

/// Parses `NAME=PATH` specifications into `config.overrides`; an error names
/// a malformed one.
llvm::Error parseScopeOverrides(llvm::ArrayRef<std::string> specs,
                                ParamResolverConfig &config);

/// `path` relative to the directory `baseDir` ("" is the current directory),
/// through `..` where needed; both are made absolute (symlinks resolved where
/// they exist) first.
llvm::Expected<std::string> makeRelativePath(llvm::StringRef path,
                                             llvm::StringRef baseDir);

/// `path` made absolute, with symlinks of its longest existing prefix
/// resolved and `.`/`..` removed.
std::string canonicalPath(llvm::StringRef path);

class ParamResolver {
public:
  ParamResolver();
  ~ParamResolver();
  ParamResolver(const ParamResolver &) = delete;
  ParamResolver &operator=(const ParamResolver &) = delete;

  /// The resolver of `ctx` (created on first use, with the default
  /// configuration: paths relative to the current directory).
  static ParamResolver &get(mlir::MLIRContext *ctx);

  void configure(ParamResolverConfig config);
  const ParamResolverConfig &getConfig() const { return config; }

  /// The location of `scope`: its override, or the recorded path under the
  /// base directory. Fails when the module does not record the scope.
  llvm::Expected<std::string> resolvePath(mlir::ModuleOp module,
                                          llvm::StringRef scope) const;

  /// The tensors of `scope`, opened on first use and cached by location.
  llvm::Expected<const ParamStore *> getStore(mlir::ModuleOp module,
                                              llvm::StringRef scope);

  /// Tensor `key` of `scope`; the error names the scope, its location and
  /// the key.
  llvm::Expected<const TensorView *>
  lookup(mlir::ModuleOp module, llvm::StringRef scope, llvm::StringRef key);

  /// tokenizer.json of the module (`lowbit.tokenizer`, relative to the
  /// checkpoint scope's directory), or "" when the module names none. For a
  /// "gguf" checkpoint scope, the GGUF file itself.
  llvm::Expected<std::string> getTokenizerPath(mlir::ModuleOp module) const;

  /// Tensors a pass writes, kept in memory for later passes, and its report.
  struct OutputScope {
    std::string name;
    /// Resolved location the scope is saved to.
    std::string location;
    MemoryStore store;
    std::vector<llvm::json::Value> report;
  };

  /// Opens the output scope `scope` at `path` (relative to the base
  /// directory, or absolute: recorded relative to it) and records it on the
  /// module. When the module already records `scope`, the scope is reused if
  /// it is an output scope of this context at the same location, and an
  /// error otherwise.
  llvm::Expected<OutputScope *> openOutputScope(mlir::ModuleOp module,
                                                llvm::StringRef scope,
                                                llvm::StringRef path);

  /// The output scope `scope` of `module` written in this context, or null.
  OutputScope *getOutputScope(mlir::ModuleOp module, llvm::StringRef scope);

  /// Number of parameter files (or model directories) opened from disk so
  /// far; a test hook for "each scope is opened once per process".
  unsigned getNumOpened() const { return numOpened; }

  /// A pass that rewrote a module of this context, kept for the provenance
  /// of what is later emitted from it (lowbit-emit-bundle). A context
  /// compiles one module at a time, as lowbit-opt and lowbit-compile do.
  struct Step {
    /// The pass in canonical textual form: its argument and every option
    /// that shapes the result, defaults included, in the order the pass
    /// prints them; output locations left out, input files by base name.
    std::string pass;
    /// Input files the pass read besides the module's parameter scopes:
    /// (label, path), e.g. ("calib", "/data/calib.txt").
    std::vector<std::pair<std::string, std::string>> inputs;
  };
  void recordStep(Step step);
  std::vector<Step> getSteps() const;

  /// What a pass wrote to the file `output` (as the pass was given it), for
  /// the tool that ran the pass to report on: lowbit-emit-bundle records
  /// the bundle's sizes here.
  void recordOutput(llvm::StringRef output, llvm::json::Object summary);
  /// The summary recorded for `output`, or null.
  const llvm::json::Object *getOutput(llvm::StringRef output) const;

private:
  struct Entry {
    std::unique_ptr<ParamStore> disk;
    std::unique_ptr<OutputScope> output;
    const ParamStore *store() const {
      return output ? &output->store : disk.get();
    }
  };
  llvm::Expected<Entry *> getEntry(mlir::ModuleOp module, llvm::StringRef scope,
                                   std::string &location);

  ParamResolverConfig config;
  mutable std::mutex mutex;
  /// By canonical location.
  std::map<std::string, Entry> entries;
  unsigned numOpened = 0;
  std::vector<Step> steps;
  std::map<std::string, llvm::json::Object> outputs;
};

/// Configures the resolver of every context the registry's LowbitDialect is
/// loaded into (tools built on MlirOptMain create the contexts themselves).
void addParamResolverExtension(mlir::DialectRegistry &registry,
                               ParamResolverConfig config);

} // namespace lowbit

#endif // LOWBIT_PARAMS_PARAMRESOLVER_H
