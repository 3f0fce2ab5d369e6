#include "connection.h"

#include <thread>
#include <vector>

namespace kaas {

namespace {

LvError NotOpenError(bool closed) {
  return LvError::Make(VIR_ERR_INVALID_CONN, VIR_FROM_NONE,
                       closed ? "connection is closed" : "connection is not open");
}

}  // namespace

Napi::Function Connection::Define(Napi::Env env) {
  return DefineClass(
      env, "Connection",
      {
          InstanceMethod<&Connection::Open>("open"),
          InstanceMethod<&Connection::Close>("close"),
          InstanceMethod<&Connection::IsOpen>("isOpen"),
          InstanceMethod<&Connection::IsAlive>("isAlive"),
          InstanceMethod<&Connection::GetHostname>("getHostname"),
          InstanceMethod<&Connection::GetLibVersion>("getLibVersion"),
          InstanceMethod<&Connection::GetNodeInfo>("getNodeInfo"),
          InstanceMethod<&Connection::GetFreeMemory>("getFreeMemory"),
          InstanceMethod<&Connection::SetKeepAlive>("setKeepAlive"),
          InstanceMethod<&Connection::RegisterCloseCallback>("registerCloseCallback"),
          InstanceMethod<&Connection::UnregisterCloseCallback>("unregisterCloseCallback"),
          InstanceMethod<&Connection::DomainEventRegister>("domainEventRegister"),
          InstanceMethod<&Connection::DomainEventDeregister>("domainEventDeregister"),

          InstanceMethod<&Connection::DomainDefineXML>("domainDefineXML"),
          InstanceMethod<&Connection::DomainLookupByName>("domainLookupByName"),
          InstanceMethod<&Connection::DomainLookupByUUID>("domainLookupByUUID"),
          InstanceMethod<&Connection::ListAllDomains>("listAllDomains"),
          InstanceMethod<&Connection::DomainCreate>("domainCreate"),
          InstanceMethod<&Connection::DomainShutdown>("domainShutdown"),
          InstanceMethod<&Connection::DomainDestroy>("domainDestroy"),
          InstanceMethod<&Connection::DomainUndefine>("domainUndefine"),
          InstanceMethod<&Connection::DomainGetInfo>("domainGetInfo"),
          InstanceMethod<&Connection::DomainGetXMLDesc>("domainGetXMLDesc"),
          InstanceMethod<&Connection::DomainIsActive>("domainIsActive"),
          InstanceMethod<&Connection::DomainSetMetadata>("domainSetMetadata"),
          InstanceMethod<&Connection::DomainGetMetadata>("domainGetMetadata"),
          InstanceMethod<&Connection::DomainOpenChannel>("domainOpenChannel"),
          InstanceMethod<&Connection::ChannelClose>("channelClose"),

          InstanceMethod<&Connection::StoragePoolDefineXML>("storagePoolDefineXML"),
          InstanceMethod<&Connection::StoragePoolBuild>("storagePoolBuild"),
          InstanceMethod<&Connection::StoragePoolCreate>("storagePoolCreate"),
          InstanceMethod<&Connection::StoragePoolDestroy>("storagePoolDestroy"),
          InstanceMethod<&Connection::StoragePoolUndefine>("storagePoolUndefine"),
          InstanceMethod<&Connection::StoragePoolDelete>("storagePoolDelete"),
          InstanceMethod<&Connection::StoragePoolLookupByName>("storagePoolLookupByName"),
          InstanceMethod<&Connection::ListAllStoragePools>("listAllStoragePools"),
          InstanceMethod<&Connection::StoragePoolGetInfo>("storagePoolGetInfo"),
          InstanceMethod<&Connection::StoragePoolRefresh>("storagePoolRefresh"),
          InstanceMethod<&Connection::StoragePoolGetXMLDesc>("storagePoolGetXMLDesc"),
          InstanceMethod<&Connection::StoragePoolSetAutostart>("storagePoolSetAutostart"),
          InstanceMethod<&Connection::StoragePoolIsActive>("storagePoolIsActive"),
          InstanceMethod<&Connection::StorageVolCreateXML>("storageVolCreateXML"),
          InstanceMethod<&Connection::StorageVolLookupByName>("storageVolLookupByName"),
          InstanceMethod<&Connection::StoragePoolListAllVolumes>("storagePoolListAllVolumes"),
          InstanceMethod<&Connection::StorageVolGetInfo>("storageVolGetInfo"),
          InstanceMethod<&Connection::StorageVolGetPath>("storageVolGetPath"),
          InstanceMethod<&Connection::StorageVolGetXMLDesc>("storageVolGetXMLDesc"),
          InstanceMethod<&Connection::StorageVolDelete>("storageVolDelete"),
          InstanceMethod<&Connection::StorageVolUpload>("storageVolUpload"),
          InstanceMethod<&Connection::StorageVolDownload>("storageVolDownload"),

          InstanceMethod<&Connection::ListAllNetworks>("listAllNetworks"),
          InstanceMethod<&Connection::NetworkGetXMLDesc>("networkGetXMLDesc"),
      });
}

Connection::Connection(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Connection>(info) {}

Connection::~Connection() {
  // Garbage-collected without close(): release on a detached thread, since
  // undoing registrations and closing a remote connection may do network I/O
  // and a finalizer must not block the JS thread.
  if (state_ == State::Open && conn_ != nullptr) {
    virConnectPtr c = conn_;
    conn_ = nullptr;
    std::thread([c, regs = regs_] { Teardown(c, regs); }).detach();
  }
}

void Connection::Teardown(virConnectPtr conn, const std::shared_ptr<Registrations>& regs) {
  // Channel streams hold references on the connection; end them first.
  CloseAllChannels(regs->channels);
  {
    std::lock_guard<std::mutex> lock(regs->mu);
    regs->tornDown = true;
    for (auto& [id, sink] : regs->domainEvents) {
      virConnectDomainEventDeregisterAny(conn, id);
      sink->Close();
    }
    regs->domainEvents.clear();
    if (regs->closeSink) {
      virConnectUnregisterCloseCallback(conn, OnConnectionClosed);
      regs->closeSink->Close();
      regs->closeSink.reset();
    }
  }
  virConnectClose(conn);
}

Napi::Value Connection::Run(const Napi::CallbackInfo& info, const char* name, Job job) {
  Napi::Env env = info.Env();
  if (state_ != State::Open || conn_ == nullptr) {
    return RejectedPromise(env, NotOpenError(state_ == State::Closed));
  }
  if (virConnectRef(conn_) < 0) return RejectedPromise(env, LvError::Last());
  auto* task = new Task(env, name, conn_, std::move(job), info.This().As<Napi::Object>());
  Napi::Promise promise = task->Promise();
  task->Queue();
  return promise;
}

Napi::Value Connection::Open(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string uri = ArgString(info, 0, "uri");
  if (state_ != State::Idle) {
    return RejectedPromise(env, LvError::Make(VIR_ERR_OPERATION_INVALID, VIR_FROM_NONE,
                                              "connection was already opened"));
  }
  state_ = State::Opening;
  auto* task = new Task(
      env, "libvirt.open", nullptr,
      [this, uri](virConnectPtr) -> Builder {
        virConnectPtr c = virConnectOpen(uri.c_str());
        if (c == nullptr) ThrowLast();
        return [this, c](Napi::Env e) -> Napi::Value {
          conn_ = c;
          state_ = State::Open;
          return e.Undefined();
        };
      },
      info.This().As<Napi::Object>());
  task->OnFailure([this] { state_ = State::Idle; });
  Napi::Promise promise = task->Promise();
  task->Queue();
  return promise;
}

Napi::Value Connection::Close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (state_ == State::Opening) {
    return RejectedPromise(env, LvError::Make(VIR_ERR_OPERATION_INVALID, VIR_FROM_NONE,
                                              "connection is still opening"));
  }
  if (state_ != State::Open) {
    state_ = State::Closed;
    auto d = Napi::Promise::Deferred::New(env);
    d.Resolve(env.Undefined());
    return d.Promise();
  }
  // From here on every new call rejects; calls already queued hold their own
  // reference and finish against the still-valid connection.
  state_ = State::Closed;
  virConnectPtr c = conn_;
  conn_ = nullptr;
  auto regs = regs_;
  auto* task = new Task(
      env, "libvirt.close", nullptr,
      [c, regs](virConnectPtr) -> Builder {
        Teardown(c, regs);
        return nullptr;
      },
      info.This().As<Napi::Object>());
  Napi::Promise promise = task->Promise();
  task->Queue();
  return promise;
}

Napi::Value Connection::IsOpen(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), state_ == State::Open);
}

Napi::Value Connection::IsAlive(const Napi::CallbackInfo& info) {
  return Run(info, "libvirt.isAlive", [](virConnectPtr c) -> Builder {
    int r = virConnectIsAlive(c);
    if (r < 0) ThrowLast();
    return [r](Napi::Env env) { return Napi::Boolean::New(env, r == 1); };
  });
}

Napi::Value Connection::GetHostname(const Napi::CallbackInfo& info) {
  return Run(info, "libvirt.getHostname", [](virConnectPtr c) -> Builder {
    char* s = virConnectGetHostname(c);
    if (s == nullptr) ThrowLast();
    std::string host = TakeString(s);
    return [host](Napi::Env env) { return Napi::String::New(env, host); };
  });
}

Napi::Value Connection::GetLibVersion(const Napi::CallbackInfo& info) {
  return Run(info, "libvirt.getLibVersion", [](virConnectPtr c) -> Builder {
    unsigned long v = 0;
    if (virConnectGetLibVersion(c, &v) < 0) ThrowLast();
    return [v](Napi::Env env) { return Napi::Number::New(env, static_cast<double>(v)); };
  });
}

Napi::Value Connection::GetNodeInfo(const Napi::CallbackInfo& info) {
  return Run(info, "libvirt.getNodeInfo", [](virConnectPtr c) -> Builder {
    virNodeInfo ni;
    if (virNodeGetInfo(c, &ni) < 0) ThrowLast();
    return [ni](Napi::Env env) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("model", Napi::String::New(env, ni.model));
      o.Set("memoryKiB", Napi::Number::New(env, static_cast<double>(ni.memory)));
      o.Set("cpus", Napi::Number::New(env, ni.cpus));
      o.Set("mhz", Napi::Number::New(env, ni.mhz));
      o.Set("nodes", Napi::Number::New(env, ni.nodes));
      o.Set("sockets", Napi::Number::New(env, ni.sockets));
      o.Set("cores", Napi::Number::New(env, ni.cores));
      o.Set("threads", Napi::Number::New(env, ni.threads));
      return o;
    };
  });
}

Napi::Value Connection::GetFreeMemory(const Napi::CallbackInfo& info) {
  return Run(info, "libvirt.getFreeMemory", [](virConnectPtr c) -> Builder {
    virResetLastError();
    unsigned long long bytes = virNodeGetFreeMemory(c);
    if (bytes == 0 && virGetLastError() != nullptr) ThrowLast();
    return [bytes](Napi::Env env) { return Napi::Number::New(env, static_cast<double>(bytes)); };
  });
}

Napi::Value Connection::SetKeepAlive(const Napi::CallbackInfo& info) {
  int interval = ArgInt(info, 0, "interval", 5);
  int count = ArgInt(info, 1, "count", 3);
  if (count < 0) throw Napi::TypeError::New(info.Env(), "count must not be negative");
  return Run(info, "libvirt.setKeepAlive", [interval, count](virConnectPtr c) -> Builder {
    int r = virConnectSetKeepAlive(c, interval, static_cast<unsigned int>(count));
    bool enabled = r == 0;
    if (r < 0) {
      LvError e = LvError::Last();
      // Local drivers (test://, qemu:/// opened in-process) have no keepalive.
      if (e.code != VIR_ERR_NO_SUPPORT) throw e;
    }
    return [enabled](Napi::Env env) { return Napi::Boolean::New(env, enabled); };
  });
}

Napi::Value Connection::RegisterCloseCallback(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsFunction()) {
    throw Napi::TypeError::New(env, "callback must be a function");
  }
  if (state_ != State::Open) return RejectedPromise(env, NotOpenError(state_ == State::Closed));
  auto sink = Sink::Create(env, info[0].As<Napi::Function>(), "libvirt.closeCallback");
  auto regs = regs_;
  Napi::Value p = Run(info, "libvirt.registerCloseCallback", [sink, regs](virConnectPtr c) -> Builder {
    std::lock_guard<std::mutex> lock(regs->mu);
    if (regs->tornDown) {
      sink->Close();
      throw NotOpenError(true);
    }
    if (regs->closeSink) {
      sink->Close();
      throw LvError::Make(VIR_ERR_OPERATION_INVALID, VIR_FROM_NONE,
                          "a close callback is already registered");
    }
    auto* holder = new std::shared_ptr<Sink>(sink);
    if (virConnectRegisterCloseCallback(c, OnConnectionClosed, holder, FreeSinkHolder) < 0) {
      LvError e = LvError::Last();
      // libvirt does not call the free callback for a failed registration.
      sink->Close();
      delete holder;
      throw e;
    }
    regs->closeSink = sink;
    return nullptr;
  });
  return p;
}

Napi::Value Connection::UnregisterCloseCallback(const Napi::CallbackInfo& info) {
  auto regs = regs_;
  return Run(info, "libvirt.unregisterCloseCallback", [regs](virConnectPtr c) -> Builder {
    std::lock_guard<std::mutex> lock(regs->mu);
    if (!regs->closeSink) return nullptr;
    if (virConnectUnregisterCloseCallback(c, OnConnectionClosed) < 0) ThrowLast();
    regs->closeSink->Close();
    regs->closeSink.reset();
    return nullptr;
  });
}

Napi::Value Connection::DomainEventRegister(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsFunction()) {
    throw Napi::TypeError::New(env, "callback must be a function");
  }
  if (state_ != State::Open) return RejectedPromise(env, NotOpenError(state_ == State::Closed));
  auto sink = Sink::Create(env, info[0].As<Napi::Function>(), "libvirt.domainEvent");
  auto regs = regs_;
  return Run(info, "libvirt.domainEventRegister", [sink, regs](virConnectPtr c) -> Builder {
    std::lock_guard<std::mutex> lock(regs->mu);
    if (regs->tornDown) {
      sink->Close();
      throw NotOpenError(true);
    }
    auto* holder = new std::shared_ptr<Sink>(sink);
    int id = virConnectDomainEventRegisterAny(c, nullptr, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                              VIR_DOMAIN_EVENT_CALLBACK(OnDomainLifecycle),
                                              holder, FreeSinkHolder);
    if (id < 0) {
      LvError e = LvError::Last();
      sink->Close();
      delete holder;
      throw e;
    }
    regs->domainEvents[id] = sink;
    return [id](Napi::Env e) { return Napi::Number::New(e, id); };
  });
}

Napi::Value Connection::DomainEventDeregister(const Napi::CallbackInfo& info) {
  int id = ArgInt(info, 0, "callbackId", -1);
  auto regs = regs_;
  return Run(info, "libvirt.domainEventDeregister", [id, regs](virConnectPtr c) -> Builder {
    std::lock_guard<std::mutex> lock(regs->mu);
    auto it = regs->domainEvents.find(id);
    if (it == regs->domainEvents.end()) {
      throw LvError::Make(VIR_ERR_INVALID_ARG, VIR_FROM_NONE,
                          "no domain event registration with id " + std::to_string(id));
    }
    if (virConnectDomainEventDeregisterAny(c, id) < 0) ThrowLast();
    it->second->Close();
    regs->domainEvents.erase(it);
    return nullptr;
  });
}

}  // namespace kaas
