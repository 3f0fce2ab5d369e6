// Domain calls. Each job looks the domain up by name, acts, and frees the
// handle before returning.
#include <cstdlib>
#include <vector>

#include "connection.h"

namespace kaas {

namespace {

struct DomainRef {
  std::string name;
  std::string uuid;
  int id = -1;
  bool active = false;
  bool persistent = false;
};

DomainRef Describe(virDomainPtr d) {
  DomainRef r;
  const char* name = virDomainGetName(d);
  if (name == nullptr) ThrowLast();
  r.name = name;
  char uuid[VIR_UUID_STRING_BUFLEN];
  if (virDomainGetUUIDString(d, uuid) < 0) ThrowLast();
  r.uuid = uuid;
  unsigned int id = virDomainGetID(d);
  r.id = id == static_cast<unsigned int>(-1) ? -1 : static_cast<int>(id);
  int active = virDomainIsActive(d);
  if (active < 0) ThrowLast();
  r.active = active == 1;
  int persistent = virDomainIsPersistent(d);
  if (persistent < 0) ThrowLast();
  r.persistent = persistent == 1;
  return r;
}

Napi::Object ToJs(Napi::Env env, const DomainRef& r) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("name", r.name);
  o.Set("uuid", r.uuid);
  o.Set("id", r.id);
  o.Set("active", r.active);
  o.Set("persistent", r.persistent);
  return o;
}

Builder DomainRefBuilder(DomainRef r) {
  return [r](Napi::Env env) -> Napi::Value { return ToJs(env, r); };
}

const char* DomainStateName(unsigned char state) {
  switch (state) {
    case VIR_DOMAIN_NOSTATE: return "nostate";
    case VIR_DOMAIN_RUNNING: return "running";
    case VIR_DOMAIN_BLOCKED: return "blocked";
    case VIR_DOMAIN_PAUSED: return "paused";
    case VIR_DOMAIN_SHUTDOWN: return "shutdown";
    case VIR_DOMAIN_SHUTOFF: return "shutoff";
    case VIR_DOMAIN_CRASHED: return "crashed";
    case VIR_DOMAIN_PMSUSPENDED: return "pmsuspended";
    default: return "unknown";
  }
}

// Set-style calls that take (name, flags) and return nothing.
using DomainAction = int (*)(virDomainPtr, unsigned int);

Job DomainActionJob(std::string name, unsigned int flags, DomainAction action) {
  return [name, flags, action](virConnectPtr c) -> Builder {
    DomainPtr d = LookupDomain(c, name);
    if (action(d, flags) < 0) ThrowLast();
    return nullptr;
  };
}

}  // namespace

Napi::Value Connection::DomainDefineXML(const Napi::CallbackInfo& info) {
  std::string xml = ArgString(info, 0, "xml");
  unsigned int flags = ArgFlags(info, 1);
  return Run(info, "libvirt.domainDefineXML", [xml, flags](virConnectPtr c) -> Builder {
    DomainPtr d(virDomainDefineXMLFlags(c, xml.c_str(), flags));
    if (d.get() == nullptr) ThrowLast();
    return DomainRefBuilder(Describe(d));
  });
}

Napi::Value Connection::DomainLookupByName(const Napi::CallbackInfo& info) {
  std::string name = ArgString(info, 0, "name");
  return Run(info, "libvirt.domainLookupByName", [name](virConnectPtr c) -> Builder {
    DomainPtr d = LookupDomain(c, name);
    return DomainRefBuilder(Describe(d));
  });
}

Napi::Value Connection::DomainLookupByUUID(const Napi::CallbackInfo& info) {
  std::string uuid = ArgString(info, 0, "uuid");
  return Run(info, "libvirt.domainLookupByUUID", [uuid](virConnectPtr c) -> Builder {
    DomainPtr d(virDomainLookupByUUIDString(c, uuid.c_str()));
    if (d.get() == nullptr) ThrowLast();
    return DomainRefBuilder(Describe(d));
  });
}

Napi::Value Connection::ListAllDomains(const Napi::CallbackInfo& info) {
  unsigned int flags = ArgFlags(info, 0);
  return Run(info, "libvirt.listAllDomains", [flags](virConnectPtr c) -> Builder {
    virDomainPtr* list = nullptr;
    int n = virConnectListAllDomains(c, &list, flags);
    if (n < 0) ThrowLast();
    std::vector<DomainPtr> owned;
    owned.reserve(n);
    for (int i = 0; i < n; i++) owned.emplace_back(list[i]);
    free(list);
    std::vector<DomainRef> refs;
    refs.reserve(n);
    for (auto& d : owned) refs.push_back(Describe(d));
    return [refs](Napi::Env env) -> Napi::Value {
      Napi::Array a = Napi::Array::New(env, refs.size());
      for (size_t i = 0; i < refs.size(); i++) a.Set(static_cast<uint32_t>(i), ToJs(env, refs[i]));
      return a;
    };
  });
}

Napi::Value Connection::DomainCreate(const Napi::CallbackInfo& info) {
  std::string name = ArgString(info, 0, "name");
  unsigned int flags = ArgFlags(info, 1);
  return Run(info, "libvirt.domainCreate", DomainActionJob(name, flags, virDomainCreateWithFlags));
}

Napi::Value Connection::DomainShutdown(const Napi::CallbackInfo& info) {
  std::string name = ArgString(info, 0, "name");
  unsigned int flags = ArgFlags(info, 1);
  return Run(info, "libvirt.domainShutdown", DomainActionJob(name, flags, virDomainShutdownFlags));
}

Napi::Value Connection::DomainDestroy(const Napi::CallbackInfo& info) {
  std::string name = ArgString(info, 0, "name");
  unsigned int flags = ArgFlags(info, 1);
  return Run(info, "libvirt.domainDestroy", DomainActionJob(name, flags, virDomainDestroyFlags));
}

Napi::Value Connection::DomainUndefine(const Napi::CallbackInfo& info) {
  std::string name = ArgString(info, 0, "name");
  unsigned int flags = ArgFlags(info, 1);
  return Run(info, "libvirt.domainUndefine", DomainActionJob(name, flags, virDomainUndefineFlags));
}

Napi::Value Connection::DomainGetInfo(const Napi::CallbackInfo& info) {
  std::string name = ArgString(info, 0, "name");
  return Run(info, "libvirt.domainGetInfo", [name](virConnectPtr c) -> Builder {
    DomainPtr d = LookupDomain(c, name);
    virDomainInfo di;
    if (virDomainGetInfo(d, &di) < 0) ThrowLast();
    return [di](Napi::Env env) -> Napi::Value {
      Napi::Object o = Napi::Object::New(env);
      o.Set("state", DomainStateName(di.state));
      o.Set("stateCode", static_cast<int>(di.state));
      o.Set("maxMemKiB", static_cast<double>(di.maxMem));
      o.Set("memoryKiB", static_cast<double>(di.memory));
      o.Set("vcpus", static_cast<double>(di.nrVirtCpu));
      o.Set("cpuTimeNs", static_cast<double>(di.cpuTime));
      return o;
    };
  });
}

Napi::Value Connection::DomainGetXMLDesc(const Napi::CallbackInfo& info) {
  std::string name = ArgString(info, 0, "name");
  unsigned int flags = ArgFlags(info, 1);
  return Run(info, "libvirt.domainGetXMLDesc", [name, flags](virConnectPtr c) -> Builder {
    DomainPtr d = LookupDomain(c, name);
    char* s = virDomainGetXMLDesc(d, flags);
    if (s == nullptr) ThrowLast();
    std::string xml = TakeString(s);
    return [xml](Napi::Env env) -> Napi::Value { return Napi::String::New(env, xml); };
  });
}

Napi::Value Connection::DomainIsActive(const Napi::CallbackInfo& info) {
  std::string name = ArgString(info, 0, "name");
  return Run(info, "libvirt.domainIsActive", [name](virConnectPtr c) -> Builder {
    DomainPtr d = LookupDomain(c, name);
    int r = virDomainIsActive(d);
    if (r < 0) ThrowLast();
    return [r](Napi::Env env) -> Napi::Value { return Napi::Boolean::New(env, r == 1); };
  });
}

// domainSetMetadata(name, namespaceUri, key, xml | null)
// Writes the persistent definition, and the live one too when the domain runs,
// so the metadata survives a restart and is visible immediately.
Napi::Value Connection::DomainSetMetadata(const Napi::CallbackInfo& info) {
  std::string name = ArgString(info, 0, "name");
  std::string uri = ArgString(info, 1, "namespaceUri");
  std::string key = ArgString(info, 2, "key");
  bool remove = info.Length() < 4 || info[3].IsNull() || info[3].IsUndefined();
  std::string xml = remove ? std::string() : ArgString(info, 3, "xml");
  return Run(info, "libvirt.domainSetMetadata", [name, uri, key, xml, remove](virConnectPtr c) -> Builder {
    DomainPtr d = LookupDomain(c, name);
    int active = virDomainIsActive(d);
    if (active < 0) ThrowLast();
    int persistent = virDomainIsPersistent(d);
    if (persistent < 0) ThrowLast();
    unsigned int flags = 0;
    if (persistent == 1) flags |= VIR_DOMAIN_AFFECT_CONFIG;
    if (active == 1) flags |= VIR_DOMAIN_AFFECT_LIVE;
    const char* content = remove ? nullptr : xml.c_str();
    const char* k = remove ? nullptr : key.c_str();
    if (virDomainSetMetadata(d, VIR_DOMAIN_METADATA_ELEMENT, content, k, uri.c_str(), flags) == 0) {
      return nullptr;
    }
    LvError e = LvError::Last();
    // The domain stopped between the state check and the call: the live part
    // no longer exists, so write the persistent definition alone.
    if ((flags & VIR_DOMAIN_AFFECT_LIVE) && persistent == 1 && e.code == VIR_ERR_OPERATION_INVALID) {
      if (virDomainSetMetadata(d, VIR_DOMAIN_METADATA_ELEMENT, content, k, uri.c_str(),
                               VIR_DOMAIN_AFFECT_CONFIG) == 0) {
        return nullptr;
      }
      ThrowLast();
    }
    throw e;
  });
}

// domainGetMetadata(name, namespaceUri, flags?) -> string | null
// null when the domain has no element in that namespace.
Napi::Value Connection::DomainGetMetadata(const Napi::CallbackInfo& info) {
  std::string name = ArgString(info, 0, "name");
  std::string uri = ArgString(info, 1, "namespaceUri");
  unsigned int flags = ArgFlags(info, 2);
  return Run(info, "libvirt.domainGetMetadata", [name, uri, flags](virConnectPtr c) -> Builder {
    DomainPtr d = LookupDomain(c, name);
    char* s = virDomainGetMetadata(d, VIR_DOMAIN_METADATA_ELEMENT, uri.c_str(), flags);
    if (s == nullptr) {
      LvError e = LvError::Last();
      if (e.code == VIR_ERR_NO_DOMAIN_METADATA) {
        return [](Napi::Env env) -> Napi::Value { return env.Null(); };
      }
      throw e;
    }
    std::string xml = TakeString(s);
    return [xml](Napi::Env env) -> Napi::Value { return Napi::String::New(env, xml); };
  });
}

}  // namespace kaas
