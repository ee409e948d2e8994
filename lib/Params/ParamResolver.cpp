//===- ParamResolver.cpp - parameter scopes of a context --------*- C++ -*-===//

#include "lowbit/Params/ParamResolver.h"
#include "lowbit/Support/GgufModel.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

using namespace mlir;

namespace lowbit {

//===----------------------------------------------------------------------===//
// Paths
//===----------------------------------------------------------------------===//

llvm::Error parseScopeOverrides(llvm::ArrayRef<std::string> specs,
                                ParamResolverConfig &config) {
  for (const std::string &spec : specs) {
    auto [name, path] = llvm::StringRef(spec).split('=');
    if (name.empty() || path.empty() || !llvm::StringRef(spec).contains('='))
      return llvm::createStringError(
          "--param-scope '%s': expected NAME=PATH (e.g. checkpoint=/models/m)",
          spec.c_str());
    config.overrides[name.str()] = path.str();
  }
  return llvm::Error::success();
}

std::string canonicalPath(llvm::StringRef path) {
  llvm::SmallString<256> abs(path.empty() ? "." : path);
  llvm::sys::fs::make_absolute(abs);
  llvm::sys::path::remove_dots(abs, /*remove_dot_dot=*/true);
  // Resolve symlinks in the longest existing prefix; keep the rest.
  llvm::SmallString<256> prefix(abs), real;
  std::vector<std::string> tail;
  while (!prefix.empty() && !llvm::sys::fs::exists(prefix)) {
    tail.push_back(llvm::sys::path::filename(prefix).str());
    llvm::StringRef parent = llvm::sys::path::parent_path(prefix);
    if (parent == prefix)
      break;
    prefix = parent;
  }
  if (prefix.empty() || llvm::sys::fs::real_path(prefix, real))
    return std::string(abs);
  for (auto it = tail.rbegin(); it != tail.rend(); ++it)
    llvm::sys::path::append(real, *it);
  return std::string(real);
}

llvm::Expected<std::string> makeRelativePath(llvm::StringRef path,
                                             llvm::StringRef baseDir) {
  std::string target = canonicalPath(path);
  std::string base = canonicalPath(baseDir);
  llvm::SmallVector<llvm::StringRef> t, b;
  for (auto it = llvm::sys::path::begin(target),
            e = llvm::sys::path::end(target);
       it != e; ++it)
    t.push_back(*it);
  for (auto it = llvm::sys::path::begin(base), e = llvm::sys::path::end(base);
       it != e; ++it)
    b.push_back(*it);
  if (t.empty() || b.empty() || t[0] != b[0])
    return llvm::createStringError(
        "cannot express '%s' relative to '%s' (different roots)",
        target.c_str(), base.c_str());
  size_t common = 0;
  while (common < t.size() && common < b.size() && t[common] == b[common])
    ++common;
  llvm::SmallString<256> out;
  for (size_t i = common; i < b.size(); ++i)
    llvm::sys::path::append(out, "..");
  for (size_t i = common; i < t.size(); ++i)
    llvm::sys::path::append(out, t[i]);
  if (out.empty())
    out = ".";
  return std::string(out);
}

//===----------------------------------------------------------------------===//
// ParamResolver
//===----------------------------------------------------------------------===//

ParamResolver::ParamResolver() = default;
ParamResolver::~ParamResolver() = default;

ParamResolver &ParamResolver::get(MLIRContext *ctx) {
  auto *dialect = ctx->getLoadedDialect<mlir::lowbit::LowbitDialect>();
  if (!dialect)
    dialect = ctx->getOrLoadDialect<mlir::lowbit::LowbitDialect>();
  std::shared_ptr<void> &slot = dialect->getParamResolverSlot();
  if (!slot)
    slot = std::make_shared<ParamResolver>();
  return *static_cast<ParamResolver *>(slot.get());
}

void ParamResolver::configure(ParamResolverConfig newConfig) {
  std::lock_guard<std::mutex> lock(mutex);
  config = std::move(newConfig);
}

llvm::Expected<std::string>
ParamResolver::resolvePath(ModuleOp module, llvm::StringRef scope) const {
  auto it = config.overrides.find(scope.str());
  if (it != config.overrides.end())
    return canonicalPath(it->second);
  mlir::lowbit::ScopeAttr attr =
      mlir::lowbit::lookupParameterScope(module, scope);
  if (!attr)
    return llvm::createStringError(
        "unknown parameter scope '%s' (the module's %s does not record it)",
        scope.str().c_str(), mlir::lowbit::kParameterScopesAttrName.data());
  llvm::SmallString<256> path(config.baseDir);
  llvm::sys::path::append(path, attr.getPath());
  return canonicalPath(path);
}

static llvm::Expected<std::unique_ptr<ParamStore>>
openSafetensors(llvm::Expected<std::unique_ptr<SafetensorsStore>> store) {
  if (!store)
    return store.takeError();
  return std::unique_ptr<ParamStore>(std::move(*store));
}

static llvm::Expected<std::unique_ptr<ParamStore>>
openGguf(llvm::StringRef location) {
  auto store = GgufStore::open(location);
  if (!store)
    return store.takeError();
  return std::unique_ptr<ParamStore>(std::move(*store));
}

llvm::Expected<ParamResolver::Entry *>
ParamResolver::getEntry(ModuleOp module, llvm::StringRef scope,
                        std::string &location) {
  llvm::Expected<std::string> resolved = resolvePath(module, scope);
  if (!resolved)
    return resolved.takeError();
  location = *resolved;
  std::lock_guard<std::mutex> lock(mutex);
  auto it = entries.find(location);
  if (it != entries.end())
    return &it->second;
  if (!llvm::sys::fs::exists(location))
    return llvm::createStringError(
        "parameter scope '%s': %s: no such file or directory",
        scope.str().c_str(), location.c_str());
  // The recorded format decides how to read the scope (also when its path is
  // overridden); a scope only given on the command line is GGUF when its
  // file name says so.
  mlir::lowbit::ScopeAttr attr =
      mlir::lowbit::lookupParameterScope(module, scope);
  bool gguf = attr ? attr.getFormat() == "gguf"
                   : llvm::StringRef(location).ends_with(".gguf");
  llvm::Expected<std::unique_ptr<ParamStore>> store =
      gguf ? openGguf(location)
      : llvm::sys::fs::is_directory(location)
          ? openSafetensors(SafetensorsStore::openDir(location))
          : openSafetensors(SafetensorsStore::openFile(location));
  if (!store)
    return llvm::createStringError("parameter scope '%s': %s",
                                   scope.str().c_str(),
                                   llvm::toString(store.takeError()).c_str());
  ++numOpened;
  Entry &entry = entries[location];
  entry.disk = std::move(*store);
  return &entry;
}

llvm::Expected<const ParamStore *>
ParamResolver::getStore(ModuleOp module, llvm::StringRef scope) {
  std::string location;
  llvm::Expected<Entry *> entry = getEntry(module, scope, location);
  if (!entry)
    return entry.takeError();
  return (*entry)->store();
}

llvm::Expected<const TensorView *> ParamResolver::lookup(ModuleOp module,
                                                         llvm::StringRef scope,
                                                         llvm::StringRef key) {
  std::string location;
  llvm::Expected<Entry *> entry = getEntry(module, scope, location);
  if (!entry)
    return entry.takeError();
  if (const TensorView *view = (*entry)->store()->lookup(key))
    return view;
  return llvm::createStringError("tensor '%s' is not in parameter scope '%s' "
                                 "(%s)",
                                 key.str().c_str(), scope.str().c_str(),
                                 llvm::sys::path::filename(location).data());
}

llvm::Expected<std::string>
ParamResolver::getTokenizerPath(ModuleOp module) const {
  auto attr =
      module->getAttrOfType<StringAttr>(mlir::lowbit::kTokenizerAttrName);
  if (!attr)
    return std::string();
  llvm::Expected<std::string> checkpoint =
      resolvePath(module, mlir::lowbit::kCheckpointScope);
  if (!checkpoint)
    return checkpoint.takeError();
  // A GGUF checkpoint is its own tokenizer (also when --param-scope points
  // the scope at another file).
  mlir::lowbit::ScopeAttr scope = mlir::lowbit::lookupParameterScope(
      module, mlir::lowbit::kCheckpointScope);
  if (scope && scope.getFormat() == "gguf")
    return *checkpoint;
  llvm::SmallString<256> path(*checkpoint);
  if (!llvm::sys::fs::is_directory(path))
    llvm::sys::path::remove_filename(path);
  llvm::sys::path::append(path, attr.getValue());
  return std::string(path);
}

llvm::Expected<ParamResolver::OutputScope *>
ParamResolver::openOutputScope(ModuleOp module, llvm::StringRef scope,
                               llvm::StringRef path) {
  if (scope.empty())
    return llvm::createStringError("output scope name must not be empty");
  if (path.empty())
    return llvm::createStringError(
        "output scope '%s' needs a file: pass output-params=FILE",
        scope.str().c_str());
  std::string relative = path.str();
  if (llvm::sys::path::is_absolute(path)) {
    llvm::Expected<std::string> rel = makeRelativePath(path, config.baseDir);
    if (!rel)
      return rel.takeError();
    relative = *rel;
  }
  MLIRContext *ctx = module.getContext();
  if (mlir::lowbit::ScopeAttr existing =
          mlir::lowbit::lookupParameterScope(module, scope)) {
    llvm::Expected<std::string> location = resolvePath(module, scope);
    if (!location)
      return location.takeError();
    std::lock_guard<std::mutex> lock(mutex);
    auto it = entries.find(*location);
    llvm::SmallString<256> wanted(config.baseDir);
    llvm::sys::path::append(wanted, relative);
    if (it != entries.end() && it->second.output &&
        canonicalPath(wanted) == *location)
      return it->second.output.get();
    return llvm::createStringError(
        "parameter scope '%s' is already recorded on the module (path '%s'); "
        "write to another scope with scope=NAME",
        scope.str().c_str(), existing.getPath().str().c_str());
  }
  // Record the scope, then create its in-memory store at the location it
  // resolves to (an override of the scope name applies here too).
  Builder b(ctx);
  SmallVector<NamedAttribute> scopes;
  if (auto dict = module->getAttrOfType<DictionaryAttr>(
          mlir::lowbit::kParameterScopesAttrName))
    scopes.assign(dict.begin(), dict.end());
  scopes.push_back(b.getNamedAttr(
      scope, mlir::lowbit::ScopeAttr::get(ctx, "safetensors", relative)));
  module->setAttr(mlir::lowbit::kParameterScopesAttrName,
                  b.getDictionaryAttr(scopes));
  llvm::Expected<std::string> location = resolvePath(module, scope);
  if (!location)
    return location.takeError();
  std::lock_guard<std::mutex> lock(mutex);
  Entry &entry = entries[*location];
  entry.disk.reset();
  entry.output = std::make_unique<OutputScope>();
  entry.output->name = scope.str();
  entry.output->location = *location;
  return entry.output.get();
}

ParamResolver::OutputScope *
ParamResolver::getOutputScope(ModuleOp module, llvm::StringRef scope) {
  llvm::Expected<std::string> location = resolvePath(module, scope);
  if (!location) {
    llvm::consumeError(location.takeError());
    return nullptr;
  }
  std::lock_guard<std::mutex> lock(mutex);
  auto it = entries.find(*location);
  return it == entries.end() ? nullptr : it->second.output.get();
}

void ParamResolver::recordStep(Step step) {
  std::lock_guard<std::mutex> lock(mutex);
  steps.push_back(std::move(step));
}

std::vector<ParamResolver::Step> ParamResolver::getSteps() const {
  std::lock_guard<std::mutex> lock(mutex);
  return steps;
}

void ParamResolver::recordOutput(llvm::StringRef output,
                                 llvm::json::Object summary) {
  std::lock_guard<std::mutex> lock(mutex);
  outputs[output.str()] = std::move(summary);
}

const llvm::json::Object *
ParamResolver::getOutput(llvm::StringRef output) const {
  std::lock_guard<std::mutex> lock(mutex);
  auto it = outputs.find(output.str());
  return it == outputs.end() ? nullptr : &it->second;
}

//===----------------------------------------------------------------------===//
// Registry extension
//===----------------------------------------------------------------------===//

namespace detail {
/// Carries the tool's configuration into every context (named, not in an
/// anonymous namespace, so its TypeID is stable).
struct ParamResolverExtension
    : public DialectExtension<ParamResolverExtension,
                              mlir::lowbit::LowbitDialect> {
  explicit ParamResolverExtension(ParamResolverConfig config)
      : config(std::move(config)) {}
  ParamResolverExtension(const ParamResolverExtension &) = default;

  void apply(MLIRContext *ctx,
             mlir::lowbit::LowbitDialect *dialect) const override {
    std::shared_ptr<void> &slot = dialect->getParamResolverSlot();
    if (!slot)
      slot = std::make_shared<ParamResolver>();
    static_cast<ParamResolver *>(slot.get())->configure(config);
  }

  ParamResolverConfig config;
};
} // namespace detail

void addParamResolverExtension(DialectRegistry &registry,
                               ParamResolverConfig config) {
  registry.addExtension(
      TypeID::get<detail::ParamResolverExtension>(),
      std::make_unique<detail::ParamResolverExtension>(std::move(config)));
}

} // namespace lowbit
