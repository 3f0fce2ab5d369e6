// The JS-visible Connection class: one virConnectPtr shared by every call
// made through it. Domains, pools, volumes and networks are addressed by
// name and looked up inside each call, so JS never holds a libvirt object
// pointer other than the connection itself.
#pragma once

#include <napi.h>
#include <libvirt/libvirt.h>

#include <map>
#include <memory>
#include <mutex>

#include "channel.h"
#include "common.h"
#include "events.h"

namespace kaas {

class Connection : public Napi::ObjectWrap<Connection> {
 public:
  static Napi::Function Define(Napi::Env env);

  explicit Connection(const Napi::CallbackInfo& info);
  ~Connection() override;

 private:
  enum class State { Idle, Opening, Open, Closed };

  // Queues `job` on a worker thread with a fresh reference on the connection,
  // or returns a rejected promise if the connection is not open.
  Napi::Value Run(const Napi::CallbackInfo& info, const char* name, Job job);

  // connection
  Napi::Value Open(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value IsOpen(const Napi::CallbackInfo& info);
  Napi::Value IsAlive(const Napi::CallbackInfo& info);
  Napi::Value GetHostname(const Napi::CallbackInfo& info);
  Napi::Value GetLibVersion(const Napi::CallbackInfo& info);
  Napi::Value GetNodeInfo(const Napi::CallbackInfo& info);
  Napi::Value GetFreeMemory(const Napi::CallbackInfo& info);
  Napi::Value SetKeepAlive(const Napi::CallbackInfo& info);
  Napi::Value RegisterCloseCallback(const Napi::CallbackInfo& info);
  Napi::Value UnregisterCloseCallback(const Napi::CallbackInfo& info);
  Napi::Value DomainEventRegister(const Napi::CallbackInfo& info);
  Napi::Value DomainEventDeregister(const Napi::CallbackInfo& info);

  // domains (domain.cc)
  Napi::Value DomainDefineXML(const Napi::CallbackInfo& info);
  Napi::Value DomainLookupByName(const Napi::CallbackInfo& info);
  Napi::Value DomainLookupByUUID(const Napi::CallbackInfo& info);
  Napi::Value ListAllDomains(const Napi::CallbackInfo& info);
  Napi::Value DomainCreate(const Napi::CallbackInfo& info);
  Napi::Value DomainShutdown(const Napi::CallbackInfo& info);
  Napi::Value DomainDestroy(const Napi::CallbackInfo& info);
  Napi::Value DomainUndefine(const Napi::CallbackInfo& info);
  Napi::Value DomainGetInfo(const Napi::CallbackInfo& info);
  Napi::Value DomainGetXMLDesc(const Napi::CallbackInfo& info);
  Napi::Value DomainIsActive(const Napi::CallbackInfo& info);
  Napi::Value DomainSetMetadata(const Napi::CallbackInfo& info);
  Napi::Value DomainGetMetadata(const Napi::CallbackInfo& info);

  // channels (channel.cc)
  Napi::Value DomainOpenChannel(const Napi::CallbackInfo& info);
  Napi::Value ChannelClose(const Napi::CallbackInfo& info);

  // storage pools and volumes (storage.cc)
  Napi::Value StoragePoolDefineXML(const Napi::CallbackInfo& info);
  Napi::Value StoragePoolBuild(const Napi::CallbackInfo& info);
  Napi::Value StoragePoolCreate(const Napi::CallbackInfo& info);
  Napi::Value StoragePoolDestroy(const Napi::CallbackInfo& info);
  Napi::Value StoragePoolUndefine(const Napi::CallbackInfo& info);
  Napi::Value StoragePoolDelete(const Napi::CallbackInfo& info);
  Napi::Value StoragePoolLookupByName(const Napi::CallbackInfo& info);
  Napi::Value ListAllStoragePools(const Napi::CallbackInfo& info);
  Napi::Value StoragePoolGetInfo(const Napi::CallbackInfo& info);
  Napi::Value StoragePoolRefresh(const Napi::CallbackInfo& info);
  Napi::Value StoragePoolGetXMLDesc(const Napi::CallbackInfo& info);
  Napi::Value StoragePoolSetAutostart(const Napi::CallbackInfo& info);
  Napi::Value StoragePoolIsActive(const Napi::CallbackInfo& info);
  Napi::Value StorageVolCreateXML(const Napi::CallbackInfo& info);
  Napi::Value StorageVolLookupByName(const Napi::CallbackInfo& info);
  Napi::Value StoragePoolListAllVolumes(const Napi::CallbackInfo& info);
  Napi::Value StorageVolGetInfo(const Napi::CallbackInfo& info);
  Napi::Value StorageVolGetPath(const Napi::CallbackInfo& info);
  Napi::Value StorageVolGetXMLDesc(const Napi::CallbackInfo& info);
  Napi::Value StorageVolDelete(const Napi::CallbackInfo& info);
  Napi::Value StorageVolUpload(const Napi::CallbackInfo& info);
  Napi::Value StorageVolDownload(const Napi::CallbackInfo& info);

  // networks, read only (network.cc)
  Napi::Value ListAllNetworks(const Napi::CallbackInfo& info);
  Napi::Value NetworkGetXMLDesc(const Napi::CallbackInfo& info);

  // Registrations that must be undone before the connection is released.
  struct Registrations {
    std::mutex mu;
    std::map<int, std::shared_ptr<Sink>> domainEvents;  // callback id -> sink
    std::shared_ptr<Sink> closeSink;                     // non-null while registered
    bool tornDown = false;                               // no registration after this
    std::shared_ptr<ChannelRegistry> channels = std::make_shared<ChannelRegistry>();
  };

  // Undo every registration and drop the connection's own reference. Runs on
  // a worker thread (close()) or a detached thread (finalizer).
  static void Teardown(virConnectPtr conn, const std::shared_ptr<Registrations>& regs);

  State state_ = State::Idle;
  virConnectPtr conn_ = nullptr;
  std::shared_ptr<Registrations> regs_ = std::make_shared<Registrations>();
};

}  // namespace kaas
