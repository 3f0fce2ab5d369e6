// Storage pool and volume calls. Pools are addressed by name, volumes by
// (pool name, volume name); each job looks them up and frees them itself.
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <thread>
#include <vector>

#include "connection.h"

namespace kaas {

namespace {

struct PoolRef {
  std::string name;
  std::string uuid;
  bool active = false;
  bool persistent = false;
};

PoolRef DescribePool(virStoragePoolPtr p) {
  PoolRef r;
  const char* name = virStoragePoolGetName(p);
  if (name == nullptr) ThrowLast();
  r.name = name;
  char uuid[VIR_UUID_STRING_BUFLEN];
  if (virStoragePoolGetUUIDString(p, uuid) < 0) ThrowLast();
  r.uuid = uuid;
  int active = virStoragePoolIsActive(p);
  if (active < 0) ThrowLast();
  r.active = active == 1;
  int persistent = virStoragePoolIsPersistent(p);
  if (persistent < 0) ThrowLast();
  r.persistent = persistent == 1;
  return r;
}

Napi::Object PoolToJs(Napi::Env env, const PoolRef& r) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("name", r.name);
  o.Set("uuid", r.uuid);
  o.Set("active", r.active);
  o.Set("persistent", r.persistent);
  return o;
}

struct VolRef {
  std::string name;
  std::string key;
  std::string path;
};

VolRef DescribeVol(virStorageVolPtr v) {
  VolRef r;
  const char* name = virStorageVolGetName(v);
  if (name == nullptr) ThrowLast();
  r.name = name;
  const char* key = virStorageVolGetKey(v);
  if (key == nullptr) ThrowLast();
  r.key = key;
  char* path = virStorageVolGetPath(v);
  if (path == nullptr) ThrowLast();
  r.path = TakeString(path);
  return r;
}

Napi::Object VolToJs(Napi::Env env, const VolRef& r) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("name", r.name);
  o.Set("key", r.key);
  o.Set("path", r.path);
  return o;
}

const char* PoolStateName(int state) {
  switch (state) {
    case VIR_STORAGE_POOL_INACTIVE: return "inactive";
    case VIR_STORAGE_POOL_BUILDING: return "building";
    case VIR_STORAGE_POOL_RUNNING: return "running";
    case VIR_STORAGE_POOL_DEGRADED: return "degraded";
    case VIR_STORAGE_POOL_INACCESSIBLE: return "inaccessible";
    default: return "unknown";
  }
}

const char* VolTypeName(int type) {
  switch (type) {
    case VIR_STORAGE_VOL_FILE: return "file";
    case VIR_STORAGE_VOL_BLOCK: return "block";
    case VIR_STORAGE_VOL_DIR: return "dir";
    case VIR_STORAGE_VOL_NETWORK: return "network";
    case VIR_STORAGE_VOL_NETDIR: return "netdir";
    case VIR_STORAGE_VOL_PLOOP: return "ploop";
    default: return "unknown";
  }
}

Job PoolActionJob(std::string name, unsigned int flags, int (*action)(virStoragePoolPtr, unsigned int)) {
  return [name, flags, action](virConnectPtr c) -> Builder {
    PoolPtr p = LookupPool(c, name);
    if (action(p, flags) < 0) ThrowLast();
    return nullptr;
  };
}

Job PoolSimpleJob(std::string name, int (*action)(virStoragePoolPtr)) {
  return [name, action](virConnectPtr c) -> Builder {
    PoolPtr p = LookupPool(c, name);
    if (action(p) < 0) ThrowLast();
    return nullptr;
  };
}

Builder StringBuilder(std::string s) {
  return [s](Napi::Env env) -> Napi::Value { return Napi::String::New(env, s); };
}

Builder BoolBuilder(bool b) {
  return [b](Napi::Env env) -> Napi::Value { return Napi::Boolean::New(env, b); };
}

// The size of the data packets libvirtd sends on a stream; uploads use it too.
constexpr size_t kStreamChunk = 256 * 1024;
// A download reserves at most this much up front; beyond it the buffer grows
// with the data that actually arrives, so a large `length` alone costs nothing.
constexpr size_t kDownloadReserveMax = 64 * 1024 * 1024;

}  // namespace

Napi::Value Connection::StoragePoolDefineXML(const Napi::CallbackInfo& info) {
  std::string xml = ArgString(info, 0, "xml");
  unsigned int flags = ArgFlags(info, 1);
  return Run(info, "libvirt.storagePoolDefineXML", [xml, flags](virConnectPtr c) -> Builder {
    PoolPtr p(virStoragePoolDefineXML(c, xml.c_str(), flags));
    if (p.get() == nullptr) ThrowLast();
    PoolRef r = DescribePool(p);
    return [r](Napi::Env env) -> Napi::Value { return PoolToJs(env, r); };
  });
}

Napi::Value Connection::StoragePoolBuild(const Napi::CallbackInfo& info) {
  std::string name = ArgString(info, 0, "name");
  unsigned int flags = ArgFlags(info, 1);
  return Run(info, "libvirt.storagePoolBuild", PoolActionJob(name, flags, virStoragePoolBuild));
}

Napi::Value Connection::StoragePoolCreate(const Napi::CallbackInfo& info) {
  std::string name = ArgString(info, 0, "name");
  unsigned int flags = ArgFlags(info, 1);
  return Run(info, "libvirt.storagePoolCreate", PoolActionJob(name, flags, virStoragePoolCreate));
}

Napi::Value Connection::StoragePoolDestroy(const Napi::CallbackInfo& info) {
  std::string name = ArgString(info, 0, "name");
  return Run(info, "libvirt.storagePoolDestroy", PoolSimpleJob(name, virStoragePoolDestroy));
}

Napi::Value Connection::StoragePoolUndefine(const Napi::CallbackInfo& info) {
  std::string name = ArgString(info, 0, "name");
  return Run(info, "libvirt.storagePoolUndefine", PoolSimpleJob(name, virStoragePoolUndefine));
}

Napi::Value Connection::StoragePoolDelete(const Napi::CallbackInfo& info) {
  std::string name = ArgString(info, 0, "name");
  unsigned int flags = ArgFlags(info, 1);
  return Run(info, "libvirt.storagePoolDelete", PoolActionJob(name, flags, virStoragePoolDelete));
}

Napi::Value Connection::StoragePoolRefresh(const Napi::CallbackInfo& info) {
  std::string name = ArgString(info, 0, "name");
  unsigned int flags = ArgFlags(info, 1);
  return Run(info, "libvirt.storagePoolRefresh", PoolActionJob(name, flags, virStoragePoolRefresh));
}

Napi::Value Connection::StoragePoolLookupByName(const Napi::CallbackInfo& info) {
  std::string name = ArgString(info, 0, "name");
  return Run(info, "libvirt.storagePoolLookupByName", [name](virConnectPtr c) -> Builder {
    PoolPtr p = LookupPool(c, name);
    PoolRef r = DescribePool(p);
    return [r](Napi::Env env) -> Napi::Value { return PoolToJs(env, r); };
  });
}

Napi::Value Connection::ListAllStoragePools(const Napi::CallbackInfo& info) {
  unsigned int flags = ArgFlags(info, 0);
  return Run(info, "libvirt.listAllStoragePools", [flags](virConnectPtr c) -> Builder {
    virStoragePoolPtr* list = nullptr;
    int n = virConnectListAllStoragePools(c, &list, flags);
    if (n < 0) ThrowLast();
    std::vector<PoolPtr> owned;
    owned.reserve(n);
    for (int i = 0; i < n; i++) owned.emplace_back(list[i]);
    free(list);
    std::vector<PoolRef> refs;
    for (auto& p : owned) refs.push_back(DescribePool(p));
    return [refs](Napi::Env env) -> Napi::Value {
      Napi::Array a = Napi::Array::New(env, refs.size());
      for (size_t i = 0; i < refs.size(); i++) a.Set(static_cast<uint32_t>(i), PoolToJs(env, refs[i]));
      return a;
    };
  });
}

Napi::Value Connection::StoragePoolGetInfo(const Napi::CallbackInfo& info) {
  std::string name = ArgString(info, 0, "name");
  return Run(info, "libvirt.storagePoolGetInfo", [name](virConnectPtr c) -> Builder {
    PoolPtr p = LookupPool(c, name);
    virStoragePoolInfo pi;
    if (virStoragePoolGetInfo(p, &pi) < 0) ThrowLast();
    return [pi](Napi::Env env) -> Napi::Value {
      Napi::Object o = Napi::Object::New(env);
      o.Set("state", PoolStateName(pi.state));
      o.Set("stateCode", pi.state);
      o.Set("capacity", static_cast<double>(pi.capacity));
      o.Set("allocation", static_cast<double>(pi.allocation));
      o.Set("available", static_cast<double>(pi.available));
      return o;
    };
  });
}

Napi::Value Connection::StoragePoolGetXMLDesc(const Napi::CallbackInfo& info) {
  std::string name = ArgString(info, 0, "name");
  unsigned int flags = ArgFlags(info, 1);
  return Run(info, "libvirt.storagePoolGetXMLDesc", [name, flags](virConnectPtr c) -> Builder {
    PoolPtr p = LookupPool(c, name);
    char* s = virStoragePoolGetXMLDesc(p, flags);
    if (s == nullptr) ThrowLast();
    return StringBuilder(TakeString(s));
  });
}

Napi::Value Connection::StoragePoolSetAutostart(const Napi::CallbackInfo& info) {
  std::string name = ArgString(info, 0, "name");
  bool autostart = ArgBool(info, 1, "autostart");
  return Run(info, "libvirt.storagePoolSetAutostart", [name, autostart](virConnectPtr c) -> Builder {
    PoolPtr p = LookupPool(c, name);
    if (virStoragePoolSetAutostart(p, autostart ? 1 : 0) < 0) ThrowLast();
    return nullptr;
  });
}

Napi::Value Connection::StoragePoolIsActive(const Napi::CallbackInfo& info) {
  std::string name = ArgString(info, 0, "name");
  return Run(info, "libvirt.storagePoolIsActive", [name](virConnectPtr c) -> Builder {
    PoolPtr p = LookupPool(c, name);
    int r = virStoragePoolIsActive(p);
    if (r < 0) ThrowLast();
    return BoolBuilder(r == 1);
  });
}

Napi::Value Connection::StorageVolCreateXML(const Napi::CallbackInfo& info) {
  std::string pool = ArgString(info, 0, "poolName");
  std::string xml = ArgString(info, 1, "xml");
  unsigned int flags = ArgFlags(info, 2);
  return Run(info, "libvirt.storageVolCreateXML", [pool, xml, flags](virConnectPtr c) -> Builder {
    PoolPtr p = LookupPool(c, pool);
    VolPtr v(virStorageVolCreateXML(p, xml.c_str(), flags));
    if (v.get() == nullptr) ThrowLast();
    VolRef r = DescribeVol(v);
    return [r](Napi::Env env) -> Napi::Value { return VolToJs(env, r); };
  });
}

Napi::Value Connection::StorageVolLookupByName(const Napi::CallbackInfo& info) {
  std::string pool = ArgString(info, 0, "poolName");
  std::string name = ArgString(info, 1, "volName");
  return Run(info, "libvirt.storageVolLookupByName", [pool, name](virConnectPtr c) -> Builder {
    VolPtr v = LookupVol(c, pool, name);
    VolRef r = DescribeVol(v);
    return [r](Napi::Env env) -> Napi::Value { return VolToJs(env, r); };
  });
}

Napi::Value Connection::StoragePoolListAllVolumes(const Napi::CallbackInfo& info) {
  std::string pool = ArgString(info, 0, "poolName");
  return Run(info, "libvirt.storagePoolListAllVolumes", [pool](virConnectPtr c) -> Builder {
    PoolPtr p = LookupPool(c, pool);
    virStorageVolPtr* list = nullptr;
    int n = virStoragePoolListAllVolumes(p, &list, 0);
    if (n < 0) ThrowLast();
    std::vector<VolPtr> owned;
    owned.reserve(n);
    for (int i = 0; i < n; i++) owned.emplace_back(list[i]);
    free(list);
    std::vector<VolRef> refs;
    for (auto& v : owned) refs.push_back(DescribeVol(v));
    return [refs](Napi::Env env) -> Napi::Value {
      Napi::Array a = Napi::Array::New(env, refs.size());
      for (size_t i = 0; i < refs.size(); i++) a.Set(static_cast<uint32_t>(i), VolToJs(env, refs[i]));
      return a;
    };
  });
}

Napi::Value Connection::StorageVolGetInfo(const Napi::CallbackInfo& info) {
  std::string pool = ArgString(info, 0, "poolName");
  std::string name = ArgString(info, 1, "volName");
  return Run(info, "libvirt.storageVolGetInfo", [pool, name](virConnectPtr c) -> Builder {
    VolPtr v = LookupVol(c, pool, name);
    virStorageVolInfo vi;
    if (virStorageVolGetInfo(v, &vi) < 0) ThrowLast();
    return [vi](Napi::Env env) -> Napi::Value {
      Napi::Object o = Napi::Object::New(env);
      o.Set("type", VolTypeName(vi.type));
      o.Set("typeCode", vi.type);
      o.Set("capacity", static_cast<double>(vi.capacity));
      o.Set("allocation", static_cast<double>(vi.allocation));
      return o;
    };
  });
}

Napi::Value Connection::StorageVolGetPath(const Napi::CallbackInfo& info) {
  std::string pool = ArgString(info, 0, "poolName");
  std::string name = ArgString(info, 1, "volName");
  return Run(info, "libvirt.storageVolGetPath", [pool, name](virConnectPtr c) -> Builder {
    VolPtr v = LookupVol(c, pool, name);
    char* s = virStorageVolGetPath(v);
    if (s == nullptr) ThrowLast();
    return StringBuilder(TakeString(s));
  });
}

Napi::Value Connection::StorageVolGetXMLDesc(const Napi::CallbackInfo& info) {
  std::string pool = ArgString(info, 0, "poolName");
  std::string name = ArgString(info, 1, "volName");
  unsigned int flags = ArgFlags(info, 2);
  return Run(info, "libvirt.storageVolGetXMLDesc", [pool, name, flags](virConnectPtr c) -> Builder {
    VolPtr v = LookupVol(c, pool, name);
    char* s = virStorageVolGetXMLDesc(v, flags);
    if (s == nullptr) ThrowLast();
    return StringBuilder(TakeString(s));
  });
}

Napi::Value Connection::StorageVolDelete(const Napi::CallbackInfo& info) {
  std::string pool = ArgString(info, 0, "poolName");
  std::string name = ArgString(info, 1, "volName");
  unsigned int flags = ArgFlags(info, 2);
  return Run(info, "libvirt.storageVolDelete", [pool, name, flags](virConnectPtr c) -> Builder {
    VolPtr v = LookupVol(c, pool, name);
    if (virStorageVolDelete(v, flags) < 0) ThrowLast();
    return nullptr;
  });
}

// storageVolUpload(poolName, volName, data: Buffer, offset?, flags?)
// Streams the buffer into the volume starting at `offset`. The buffer is kept
// referenced (not copied) until the call settles; callers must not modify it
// meanwhile. On any failure the stream is aborted before the error is
// reported.
Napi::Value Connection::StorageVolUpload(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string pool = ArgString(info, 0, "poolName");
  std::string name = ArgString(info, 1, "volName");
  if (info.Length() < 3 || !info[2].IsBuffer()) throw Napi::TypeError::New(env, "data must be a Buffer");
  auto buf = info[2].As<Napi::Buffer<uint8_t>>();
  double offsetArg = 0;
  if (info.Length() > 3 && !info[3].IsUndefined() && !info[3].IsNull()) {
    if (!info[3].IsNumber()) throw Napi::TypeError::New(env, "offset must be a number");
    offsetArg = info[3].As<Napi::Number>().DoubleValue();
    if (offsetArg < 0) throw Napi::TypeError::New(env, "offset must not be negative");
  }
  unsigned long long offset = static_cast<unsigned long long>(offsetArg);
  unsigned int flags = ArgFlags(info, 4);
  const uint8_t* data = buf.Data();
  size_t length = buf.Length();
  // Destroyed with the task, on the JS thread.
  auto keep = std::make_shared<Napi::ObjectReference>(Napi::Persistent(buf.As<Napi::Object>()));
  return Run(info, "libvirt.storageVolUpload",
             [pool, name, data, length, offset, flags, keep](virConnectPtr c) -> Builder {
               VolPtr v = LookupVol(c, pool, name);
               StreamPtr st(virStreamNew(c, 0));
               if (st.get() == nullptr) ThrowLast();
               auto fail = [&st]() {
                 LvError e = LvError::Last();
                 virStreamAbort(st);
                 throw e;
               };
               if (virStorageVolUpload(v, st, offset, length, flags) < 0) fail();
               size_t sent = 0;
               while (sent < length) {
                 size_t chunk = std::min(kStreamChunk, length - sent);
                 int n = virStreamSend(st, reinterpret_cast<const char*>(data + sent), chunk);
                 if (n == -2) {  // only for non-blocking streams; be safe
                   std::this_thread::sleep_for(std::chrono::milliseconds(1));
                   continue;
                 }
                 if (n < 0) fail();
                 sent += static_cast<size_t>(n);
               }
               if (virStreamFinish(st) < 0) fail();
               return [sent](Napi::Env e) -> Napi::Value {
                 return Napi::Number::New(e, static_cast<double>(sent));
               };
             });
}

// storageVolDownload(poolName, volName, offset, length, flags?) -> Buffer
// Reads at most `length` bytes of the volume from `offset` through a libvirt
// stream and resolves with exactly the bytes received: fewer when the stream
// ends first. `length` is required (libvirt reads to the end of the volume on
// 0, which this call never asks for: 0 reads nothing). On any failure the
// stream is aborted before the error is reported.
Napi::Value Connection::StorageVolDownload(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string pool = ArgString(info, 0, "poolName");
  std::string name = ArgString(info, 1, "volName");
  auto byteCount = [&info, &env](size_t i, const char* what) -> unsigned long long {
    if (info.Length() <= i || !info[i].IsNumber()) {
      throw Napi::TypeError::New(env, std::string(what) + " must be a number");
    }
    double v = info[i].As<Napi::Number>().DoubleValue();
    // Integral, not negative, and exact as a double (2^53).
    if (!(v >= 0) || v > 9007199254740992.0 || v != static_cast<double>(static_cast<unsigned long long>(v))) {
      throw Napi::TypeError::New(env, std::string(what) + " must be a non-negative integer");
    }
    return static_cast<unsigned long long>(v);
  };
  unsigned long long offset = byteCount(2, "offset");
  unsigned long long requested = byteCount(3, "length");
  unsigned int flags = ArgFlags(info, 4);
  if (requested > static_cast<unsigned long long>(SIZE_MAX)) {
    throw Napi::RangeError::New(env, "length does not fit in memory");
  }
  size_t length = static_cast<size_t>(requested);
  return Run(info, "libvirt.storageVolDownload",
             [pool, name, offset, length, flags](virConnectPtr c) -> Builder {
               VolPtr v = LookupVol(c, pool, name);
               auto out = std::make_shared<std::vector<uint8_t>>();
               if (length > 0) {
                 StreamPtr st(virStreamNew(c, 0));
                 if (st.get() == nullptr) ThrowLast();
                 auto fail = [&st]() {
                   LvError e = LvError::Last();
                   virStreamAbort(st);
                   throw e;
                 };
                 if (virStorageVolDownload(v, st, offset, length, flags) < 0) fail();
                 out->reserve(std::min(length, kDownloadReserveMax));
                 size_t received = 0;
                 while (received < length) {
                   size_t chunk = std::min(kStreamChunk, length - received);
                   out->resize(received + chunk);
                   int n = virStreamRecv(st, reinterpret_cast<char*>(out->data() + received), chunk);
                   if (n == -2) {  // only for non-blocking streams; be safe
                     std::this_thread::sleep_for(std::chrono::milliseconds(1));
                     continue;
                   }
                   if (n < 0) fail();
                   if (n == 0) break;  // end of stream
                   received += static_cast<size_t>(n);
                 }
                 out->resize(received);
                 // A stream error that arrived after the last data is reported here.
                 if (virStreamFinish(st) < 0) fail();
               }
               return [out](Napi::Env e) -> Napi::Value {
                 if (out->empty()) return Napi::Buffer<uint8_t>::New(e, 0);
                 // Handed to JS without a copy where the runtime allows it; the
                 // heap vector lives until the Buffer is collected.
                 auto* bytes = new std::vector<uint8_t>(std::move(*out));
                 return Napi::Buffer<uint8_t>::NewOrCopy(
                     e, bytes->data(), bytes->size(),
                     [](Napi::Env, uint8_t*, std::vector<uint8_t>* held) { delete held; }, bytes);
               };
             });
}

}  // namespace kaas
