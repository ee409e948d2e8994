//===- OpSemantics.cpp - graph ops onto the runtime's op table --*- C++ -*-===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//

#include "lowbit/OpSemantics/OpSemantics.h"

using namespace mlir;
using namespace mlir::lowbit;
namespace rtops = ::lowbit::rt::ops;

namespace lowbit {

const rtops::OpDef *lookupOpDef(Operation *op) {
  auto graphOp = dyn_cast<GraphOpInterface>(op);
  if (!graphOp)
    return nullptr;
  StringRef name = graphOp.getSemanticsName();
  return rtops::opByName(std::string_view(name.data(), name.size()));
}

std::string getOpAttrValues(GraphOpInterface op, const rtops::OpDef &def,
                            std::optional<int64_t> contextLength,
                            rtops::AttrValues &values,
                            std::string &unsupported) {
  SmallVector<NamedAttribute> attrs;
  op.getSemanticAttrs(attrs, contextLength, unsupported);
  if (!unsupported.empty())
    return "";
  for (const NamedAttribute &attr : attrs) {
    StringRef name = attr.getName().getValue();
    int i = def.attrIndex(std::string_view(name.data(), name.size()));
    if (i < 0)
      return "attribute '" + name.str() + "' is not in the schema of '" +
             def.name + "'";
    const rtops::AttrDef &a = def.attrs[i];
    rtops::AttrValue &v = values[size_t(i)];
    Attribute value = attr.getValue();
    bool ok = false;
    switch (a.type) {
    case rtops::AttrType::Int:
      if (auto x = dyn_cast<IntegerAttr>(value); x && !isa<BoolAttr>(value)) {
        v.i = x.getInt();
        ok = true;
      }
      break;
    case rtops::AttrType::Number:
      if (auto x = dyn_cast<FloatAttr>(value)) {
        v.f = x.getValueAsDouble();
        ok = true;
      }
      break;
    case rtops::AttrType::Bool:
      if (auto x = dyn_cast<BoolAttr>(value)) {
        v.b = x.getValue();
        ok = true;
      }
      break;
    case rtops::AttrType::String:
      if (auto x = dyn_cast<StringAttr>(value)) {
        v.s = x.getValue().str();
        ok = true;
      }
      break;
    }
    if (!ok)
      return "attribute '" + name.str() + "' has the wrong type for '" +
             def.name + "'";
    v.present = true;
    std::string err = rtops::checkAttr(a, v);
    if (!err.empty())
      return err;
  }
  for (int i = 0; i < def.numAttrs; ++i)
    if (def.attrs[i].required && !values[size_t(i)].present)
      return std::string("missing attribute '") + def.attrs[i].name + "'";
  return "";
}

llvm::json::Value attrToManifest(const rtops::AttrDef &def,
                                 const rtops::AttrValue &value) {
  switch (def.type) {
  case rtops::AttrType::Int:
    return value.i;
  case rtops::AttrType::Number:
    return value.f;
  case rtops::AttrType::Bool:
    return value.b;
  case rtops::AttrType::String:
    break;
  }
  return value.s;
}

} // namespace lowbit
