// libvirt's event loop thread and the bridge from libvirt callbacks (which
// run on that thread) to JS functions (which run on the JS thread).
#pragma once

#include <napi.h>
#include <libvirt/libvirt.h>

#include <memory>
#include <mutex>
#include <string>

namespace kaas {

// Once per process: virInitialize, the silent error handler,
// virEventRegisterDefaultImpl and the thread that runs virEventRunDefaultImpl.
// Must run before the first virConnectOpen, so module init calls it.
// Returns false (with a message) if libvirt could not be initialised.
bool EnsureLibvirtInitialized(std::string* error);

// Something produced on a non-JS thread to be turned into a JS value.
struct Payload {
  virtual ~Payload() = default;
  virtual Napi::Value ToJs(Napi::Env env) const = 0;
};

void CallJsWithPayload(Napi::Env env, Napi::Function fn, void* context, Payload* data);
using PayloadTsfn = Napi::TypedThreadSafeFunction<void, Payload, CallJsWithPayload>;

// Owns one thread-safe function. Post() may be called from any thread at any
// time; once Close() ran or Node finalized the function, posts are dropped.
// The function is unref'ed: a subscription alone does not keep Node running.
class Sink {
 public:
  static std::shared_ptr<Sink> Create(Napi::Env env, Napi::Function fn, const char* name);

  void Post(Payload* p);
  void Close();
  bool IsLive();

 private:
  std::mutex mu_;
  bool live_ = false;
  PayloadTsfn tsfn_;
};

// Lifecycle event forwarded to JS.
struct DomainEventPayload : Payload {
  std::string name;
  std::string uuid;
  int event = 0;
  int detail = 0;
  Napi::Value ToJs(Napi::Env env) const override;
};

struct CloseEventPayload : Payload {
  int reason = 0;
  Napi::Value ToJs(Napi::Env env) const override;
};

const char* DomainEventName(int event);
const char* CloseReasonName(int reason);

// Callbacks handed to libvirt; opaque is a heap std::shared_ptr<Sink>*,
// released by FreeSinkHolder when libvirt drops the registration.
int OnDomainLifecycle(virConnectPtr conn, virDomainPtr dom, int event, int detail, void* opaque);
void OnConnectionClosed(virConnectPtr conn, int reason, void* opaque);
void FreeSinkHolder(void* opaque);

}  // namespace kaas
