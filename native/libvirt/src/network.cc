// Network calls, read only (the platform defines no libvirt networks); addressed by name.
#include <cstdlib>
#include <vector>

#include "connection.h"

namespace kaas {

namespace {

struct NetRef {
  std::string name;
  std::string uuid;
  bool active = false;
  bool persistent = false;
};

NetRef DescribeNet(virNetworkPtr n) {
  NetRef r;
  const char* name = virNetworkGetName(n);
  if (name == nullptr) ThrowLast();
  r.name = name;
  char uuid[VIR_UUID_STRING_BUFLEN];
  if (virNetworkGetUUIDString(n, uuid) < 0) ThrowLast();
  r.uuid = uuid;
  int active = virNetworkIsActive(n);
  if (active < 0) ThrowLast();
  r.active = active == 1;
  int persistent = virNetworkIsPersistent(n);
  if (persistent < 0) ThrowLast();
  r.persistent = persistent == 1;
  return r;
}

Napi::Object NetToJs(Napi::Env env, const NetRef& r) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("name", r.name);
  o.Set("uuid", r.uuid);
  o.Set("active", r.active);
  o.Set("persistent", r.persistent);
  return o;
}

}  // namespace

Napi::Value Connection::ListAllNetworks(const Napi::CallbackInfo& info) {
  unsigned int flags = ArgFlags(info, 0);
  return Run(info, "libvirt.listAllNetworks", [flags](virConnectPtr c) -> Builder {
    virNetworkPtr* list = nullptr;
    int count = virConnectListAllNetworks(c, &list, flags);
    if (count < 0) ThrowLast();
    std::vector<NetPtr> owned;
    owned.reserve(count);
    for (int i = 0; i < count; i++) owned.emplace_back(list[i]);
    free(list);
    std::vector<NetRef> refs;
    for (auto& n : owned) refs.push_back(DescribeNet(n));
    return [refs](Napi::Env env) -> Napi::Value {
      Napi::Array a = Napi::Array::New(env, refs.size());
      for (size_t i = 0; i < refs.size(); i++) a.Set(static_cast<uint32_t>(i), NetToJs(env, refs[i]));
      return a;
    };
  });
}

Napi::Value Connection::NetworkGetXMLDesc(const Napi::CallbackInfo& info) {
  std::string name = ArgString(info, 0, "name");
  unsigned int flags = ArgFlags(info, 1);
  return Run(info, "libvirt.networkGetXMLDesc", [name, flags](virConnectPtr c) -> Builder {
    NetPtr n = LookupNetwork(c, name);
    char* s = virNetworkGetXMLDesc(n, flags);
    if (s == nullptr) ThrowLast();
    std::string xml = TakeString(s);
    return [xml](Napi::Env env) -> Napi::Value { return Napi::String::New(env, xml); };
  });
}

}  // namespace kaas
