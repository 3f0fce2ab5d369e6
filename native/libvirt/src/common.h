// Shared plumbing: libvirt error capture, the promise-returning worker and
// RAII wrappers for libvirt object pointers.
#pragma once

#include <napi.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <functional>
#include <string>
#include <utility>

namespace kaas {

// A libvirt error copied out of the thread-local slot of the thread on which
// the failing call ran. Thrown by jobs; turned into a JS Error on the JS thread.
struct LvError {
  int code = VIR_ERR_INTERNAL_ERROR;
  int domain = VIR_FROM_NONE;
  std::string message;

  // Copies virGetLastError() of the calling thread. Must be called on the
  // thread where the libvirt call failed, before any other libvirt call.
  static LvError Last();
  static LvError Make(int code, int domain, std::string message);
};

[[noreturn]] inline void ThrowLast() { throw LvError::Last(); }

Napi::Error MakeJsError(Napi::Env env, const LvError& err);

// A job runs on a libuv worker thread and returns a builder that runs on the
// JS thread to turn plain C++ results into JS values.
using Builder = std::function<Napi::Value(Napi::Env)>;
using Job = std::function<Builder(virConnectPtr)>;

// Runs one Job off the JS thread and settles a promise with its result.
// If `conn` is non-null the task owns one libvirt reference on it (taken by
// the caller with virConnectRef) and drops it on the worker thread, so a
// connection closed by the user stays valid for calls already in flight.
class Task : public Napi::AsyncWorker {
 public:
  Task(Napi::Env env, const char* name, virConnectPtr conn, Job job, Napi::Object keepAlive);
  ~Task() override;

  Napi::Promise Promise() const { return deferred_.Promise(); }

  // Runs on the JS thread if the job failed, before the promise is rejected.
  void OnFailure(std::function<void()> fn) { onFailure_ = std::move(fn); }

 protected:
  void Execute() override;
  void OnOK() override;
  void OnError(const Napi::Error& e) override;

 private:
  void ReleaseConn();

  Napi::Promise::Deferred deferred_;
  virConnectPtr conn_;
  Job job_;
  Builder builder_;
  bool failed_ = false;
  LvError err_;
  Napi::ObjectReference keepAlive_;
  std::function<void()> onFailure_;
};

// A promise already rejected with a libvirt-shaped error (used when a call
// cannot even be queued, e.g. on a closed connection).
Napi::Value RejectedPromise(Napi::Env env, const LvError& err);

// RAII holders; each lookup throws LvError when libvirt reports a failure.
template <typename T, int (*FreeFn)(T)>
class Handle {
 public:
  Handle() = default;
  explicit Handle(T p) : p_(p) {}
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  Handle(Handle&& o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
  ~Handle() {
    if (p_) FreeFn(p_);
  }
  T get() const { return p_; }
  operator T() const { return p_; }

 private:
  T p_ = nullptr;
};

using DomainPtr = Handle<virDomainPtr, virDomainFree>;
using PoolPtr = Handle<virStoragePoolPtr, virStoragePoolFree>;
using VolPtr = Handle<virStorageVolPtr, virStorageVolFree>;
using NetPtr = Handle<virNetworkPtr, virNetworkFree>;
using StreamPtr = Handle<virStreamPtr, virStreamFree>;

DomainPtr LookupDomain(virConnectPtr c, const std::string& name);
PoolPtr LookupPool(virConnectPtr c, const std::string& name);
VolPtr LookupVol(virConnectPtr c, const std::string& pool, const std::string& name);
NetPtr LookupNetwork(virConnectPtr c, const std::string& name);

// Takes ownership of a malloc'ed string returned by libvirt.
std::string TakeString(char* s);

// Argument helpers; they throw Napi::TypeError on a wrong argument.
std::string ArgString(const Napi::CallbackInfo& info, size_t i, const char* what);
unsigned int ArgFlags(const Napi::CallbackInfo& info, size_t i);
int ArgInt(const Napi::CallbackInfo& info, size_t i, const char* what, int fallback);
bool ArgBool(const Napi::CallbackInfo& info, size_t i, const char* what);

}  // namespace kaas
