#include "events.h"

#include <libvirt/virterror.h>

#include <chrono>
#include <thread>

namespace kaas {

namespace {

// libvirt prints every error to stderr unless a handler is installed; errors
// are reported through promise rejections instead.
void SilentErrorHandler(void* /*userData*/, virErrorPtr /*error*/) {}

std::once_flag g_initOnce;
bool g_initOk = false;
std::string g_initError;

void RunEventLoop() {
  for (;;) {
    if (virEventRunDefaultImpl() < 0) {
      // Only fails on an internal poll error; avoid a hot loop.
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
}

}  // namespace

bool EnsureLibvirtInitialized(std::string* error) {
  std::call_once(g_initOnce, [] {
    if (virInitialize() < 0) {
      g_initError = "virInitialize failed";
      return;
    }
    virSetErrorFunc(nullptr, SilentErrorHandler);
    if (virEventRegisterDefaultImpl() < 0) {
      virErrorPtr e = virGetLastError();
      g_initError = std::string("virEventRegisterDefaultImpl failed: ") +
                    (e != nullptr && e->message != nullptr ? e->message : "unknown error");
      return;
    }
    // The loop thread lives as long as the process: libvirt has no way to
    // unregister the default implementation, and connections of any
    // environment in this process may depend on it. It holds no Node handle,
    // so it never keeps Node from exiting.
    std::thread(RunEventLoop).detach();
    g_initOk = true;
  });
  if (!g_initOk && error != nullptr) *error = g_initError;
  return g_initOk;
}

void CallJsWithPayload(Napi::Env env, Napi::Function fn, void* /*context*/, Payload* data) {
  std::unique_ptr<Payload> owned(data);
  if (env == nullptr || fn.IsEmpty() || owned == nullptr) return;  // being torn down
  // Nothing may escape: this runs from a C callback. A listener's exception
  // is raised as an 'uncaughtException', like an EventEmitter listener's;
  // while the environment shuts down JS cannot run and the event is dropped.
  try {
    fn.Call({owned->ToJs(env)});
  } catch (const Napi::Error& e) {
    try {
      napi_fatal_exception(env, e.Value());
    } catch (...) {
    }
  } catch (...) {
  }
}

std::shared_ptr<Sink> Sink::Create(Napi::Env env, Napi::Function fn, const char* name) {
  auto sink = std::make_shared<Sink>();
  auto* holder = new std::shared_ptr<Sink>(sink);
  sink->tsfn_ = PayloadTsfn::New(
      env, fn, name, 0, 1, static_cast<void*>(nullptr),
      [](Napi::Env, std::shared_ptr<Sink>* h, void*) {
        {
          std::lock_guard<std::mutex> lock((*h)->mu_);
          (*h)->live_ = false;
        }
        delete h;
      },
      holder);
  sink->live_ = true;
  sink->tsfn_.Unref(env);
  return sink;
}

void Sink::Post(Payload* p) {
  std::unique_ptr<Payload> owned(p);
  std::lock_guard<std::mutex> lock(mu_);
  if (!live_) return;
  if (tsfn_.NonBlockingCall(owned.get()) == napi_ok) owned.release();
}

void Sink::Close() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!live_) return;
  live_ = false;
  tsfn_.Release();
}

bool Sink::IsLive() {
  std::lock_guard<std::mutex> lock(mu_);
  return live_;
}

const char* DomainEventName(int event) {
  switch (event) {
    case VIR_DOMAIN_EVENT_DEFINED: return "defined";
    case VIR_DOMAIN_EVENT_UNDEFINED: return "undefined";
    case VIR_DOMAIN_EVENT_STARTED: return "started";
    case VIR_DOMAIN_EVENT_SUSPENDED: return "suspended";
    case VIR_DOMAIN_EVENT_RESUMED: return "resumed";
    case VIR_DOMAIN_EVENT_STOPPED: return "stopped";
    case VIR_DOMAIN_EVENT_SHUTDOWN: return "shutdown";
    case VIR_DOMAIN_EVENT_PMSUSPENDED: return "pmsuspended";
    case VIR_DOMAIN_EVENT_CRASHED: return "crashed";
    default: return "unknown";
  }
}

const char* CloseReasonName(int reason) {
  switch (reason) {
    case VIR_CONNECT_CLOSE_REASON_ERROR: return "error";
    case VIR_CONNECT_CLOSE_REASON_EOF: return "eof";
    case VIR_CONNECT_CLOSE_REASON_KEEPALIVE: return "keepalive";
    case VIR_CONNECT_CLOSE_REASON_CLIENT: return "client";
    default: return "unknown";
  }
}

Napi::Value DomainEventPayload::ToJs(Napi::Env env) const {
  Napi::Object o = Napi::Object::New(env);
  o.Set("domainName", name);
  o.Set("uuid", uuid);
  o.Set("event", DomainEventName(event));
  o.Set("eventCode", event);
  o.Set("detail", detail);
  return o;
}

Napi::Value CloseEventPayload::ToJs(Napi::Env env) const {
  Napi::Object o = Napi::Object::New(env);
  o.Set("reason", CloseReasonName(reason));
  o.Set("reasonCode", reason);
  return o;
}

int OnDomainLifecycle(virConnectPtr /*conn*/, virDomainPtr dom, int event, int detail, void* opaque) {
  auto* holder = static_cast<std::shared_ptr<Sink>*>(opaque);
  auto* p = new DomainEventPayload();
  const char* name = virDomainGetName(dom);
  if (name != nullptr) p->name = name;
  char uuid[VIR_UUID_STRING_BUFLEN];
  if (virDomainGetUUIDString(dom, uuid) == 0) p->uuid = uuid;
  p->event = event;
  p->detail = detail;
  (*holder)->Post(p);
  return 0;
}

void OnConnectionClosed(virConnectPtr /*conn*/, int reason, void* opaque) {
  auto* holder = static_cast<std::shared_ptr<Sink>*>(opaque);
  auto* p = new CloseEventPayload();
  p->reason = reason;
  (*holder)->Post(p);
}

void FreeSinkHolder(void* opaque) {
  auto* holder = static_cast<std::shared_ptr<Sink>*>(opaque);
  (*holder)->Close();
  delete holder;
}

}  // namespace kaas
