// Network calls; networks are addressed by name.
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

Job NetSimpleJob(std::string name, int (*action)(virNetworkPtr)) {
  return [name, action](virConnectPtr c) -> Builder {
    NetPtr n = LookupNetwork(c, name);
    if (action(n) < 0) ThrowLast();
    return nullptr;
  };
}

struct Lease {
  std::string iface;
  long long expiryTime = 0;
  int type = 0;
  std::string mac;
  std::string iaid;
  std::string ipaddr;
  unsigned int prefix = 0;
  std::string hostname;
  std::string clientid;
  bool hasHostname = false;
  bool hasClientid = false;
  bool hasIaid = false;
};

std::string OrEmpty(const char* s) { return s != nullptr ? std::string(s) : std::string(); }

}  // namespace

Napi::Value Connection::NetworkDefineXML(const Napi::CallbackInfo& info) {
  std::string xml = ArgString(info, 0, "xml");
  unsigned int flags = ArgFlags(info, 1);
  return Run(info, "libvirt.networkDefineXML", [xml, flags](virConnectPtr c) -> Builder {
    NetPtr n(virNetworkDefineXMLFlags(c, xml.c_str(), flags));
    if (n.get() == nullptr) ThrowLast();
    NetRef r = DescribeNet(n);
    return [r](Napi::Env env) -> Napi::Value { return NetToJs(env, r); };
  });
}

Napi::Value Connection::NetworkCreate(const Napi::CallbackInfo& info) {
  std::string name = ArgString(info, 0, "name");
  return Run(info, "libvirt.networkCreate", NetSimpleJob(name, virNetworkCreate));
}

Napi::Value Connection::NetworkDestroy(const Napi::CallbackInfo& info) {
  std::string name = ArgString(info, 0, "name");
  return Run(info, "libvirt.networkDestroy", NetSimpleJob(name, virNetworkDestroy));
}

Napi::Value Connection::NetworkUndefine(const Napi::CallbackInfo& info) {
  std::string name = ArgString(info, 0, "name");
  return Run(info, "libvirt.networkUndefine", NetSimpleJob(name, virNetworkUndefine));
}

Napi::Value Connection::NetworkLookupByName(const Napi::CallbackInfo& info) {
  std::string name = ArgString(info, 0, "name");
  return Run(info, "libvirt.networkLookupByName", [name](virConnectPtr c) -> Builder {
    NetPtr n = LookupNetwork(c, name);
    NetRef r = DescribeNet(n);
    return [r](Napi::Env env) -> Napi::Value { return NetToJs(env, r); };
  });
}

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

Napi::Value Connection::NetworkIsActive(const Napi::CallbackInfo& info) {
  std::string name = ArgString(info, 0, "name");
  return Run(info, "libvirt.networkIsActive", [name](virConnectPtr c) -> Builder {
    NetPtr n = LookupNetwork(c, name);
    int r = virNetworkIsActive(n);
    if (r < 0) ThrowLast();
    return [r](Napi::Env env) -> Napi::Value { return Napi::Boolean::New(env, r == 1); };
  });
}

Napi::Value Connection::NetworkGetBridgeName(const Napi::CallbackInfo& info) {
  std::string name = ArgString(info, 0, "name");
  return Run(info, "libvirt.networkGetBridgeName", [name](virConnectPtr c) -> Builder {
    NetPtr n = LookupNetwork(c, name);
    char* s = virNetworkGetBridgeName(n);
    if (s == nullptr) ThrowLast();
    std::string bridge = TakeString(s);
    return [bridge](Napi::Env env) -> Napi::Value { return Napi::String::New(env, bridge); };
  });
}

Napi::Value Connection::NetworkSetAutostart(const Napi::CallbackInfo& info) {
  std::string name = ArgString(info, 0, "name");
  bool autostart = ArgBool(info, 1, "autostart");
  return Run(info, "libvirt.networkSetAutostart", [name, autostart](virConnectPtr c) -> Builder {
    NetPtr n = LookupNetwork(c, name);
    if (virNetworkSetAutostart(n, autostart ? 1 : 0) < 0) ThrowLast();
    return nullptr;
  });
}

// networkUpdate(name, command, section, parentIndex, xml, flags)
Napi::Value Connection::NetworkUpdate(const Napi::CallbackInfo& info) {
  std::string name = ArgString(info, 0, "name");
  unsigned int command = ArgFlags(info, 1);
  unsigned int section = ArgFlags(info, 2);
  int parentIndex = ArgInt(info, 3, "parentIndex", -1);
  std::string xml = ArgString(info, 4, "xml");
  unsigned int flags = ArgFlags(info, 5);
  return Run(info, "libvirt.networkUpdate",
             [name, command, section, parentIndex, xml, flags](virConnectPtr c) -> Builder {
               NetPtr n = LookupNetwork(c, name);
               if (virNetworkUpdate(n, command, section, parentIndex, xml.c_str(), flags) < 0) ThrowLast();
               return nullptr;
             });
}

// networkGetDHCPLeases(name, mac?) -> lease[]
Napi::Value Connection::NetworkGetDHCPLeases(const Napi::CallbackInfo& info) {
  std::string name = ArgString(info, 0, "name");
  bool hasMac = info.Length() > 1 && info[1].IsString();
  std::string mac = hasMac ? info[1].As<Napi::String>().Utf8Value() : std::string();
  return Run(info, "libvirt.networkGetDHCPLeases", [name, hasMac, mac](virConnectPtr c) -> Builder {
    NetPtr n = LookupNetwork(c, name);
    virNetworkDHCPLeasePtr* leases = nullptr;
    int count = virNetworkGetDHCPLeases(n, hasMac ? mac.c_str() : nullptr, &leases, 0);
    if (count < 0) ThrowLast();
    std::vector<Lease> out;
    out.reserve(count);
    for (int i = 0; i < count; i++) {
      virNetworkDHCPLeasePtr l = leases[i];
      Lease x;
      x.iface = OrEmpty(l->iface);
      x.expiryTime = l->expirytime;
      x.type = l->type;
      x.mac = OrEmpty(l->mac);
      x.hasIaid = l->iaid != nullptr;
      x.iaid = OrEmpty(l->iaid);
      x.ipaddr = OrEmpty(l->ipaddr);
      x.prefix = l->prefix;
      x.hasHostname = l->hostname != nullptr;
      x.hostname = OrEmpty(l->hostname);
      x.hasClientid = l->clientid != nullptr;
      x.clientid = OrEmpty(l->clientid);
      out.push_back(std::move(x));
      virNetworkDHCPLeaseFree(l);
    }
    free(leases);
    return [out](Napi::Env env) -> Napi::Value {
      Napi::Array a = Napi::Array::New(env, out.size());
      for (size_t i = 0; i < out.size(); i++) {
        const Lease& x = out[i];
        Napi::Object o = Napi::Object::New(env);
        o.Set("iface", x.iface);
        o.Set("expiryTime", static_cast<double>(x.expiryTime));
        o.Set("type", x.type == VIR_IP_ADDR_TYPE_IPV6 ? "ipv6" : "ipv4");
        o.Set("mac", x.mac);
        o.Set("iaid", x.hasIaid ? Napi::Value(Napi::String::New(env, x.iaid)) : env.Null());
        o.Set("ipaddr", x.ipaddr);
        o.Set("prefix", x.prefix);
        o.Set("hostname", x.hasHostname ? Napi::Value(Napi::String::New(env, x.hostname)) : env.Null());
        o.Set("clientid", x.hasClientid ? Napi::Value(Napi::String::New(env, x.clientid)) : env.Null());
        a.Set(static_cast<uint32_t>(i), o);
      }
      return a;
    };
  });
}

}  // namespace kaas
