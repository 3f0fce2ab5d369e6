#include "common.h"

#include <cstdlib>

namespace kaas {

LvError LvError::Last() {
  LvError e;
  virErrorPtr last = virGetLastError();
  if (last != nullptr) {
    e.code = last->code;
    e.domain = last->domain;
    e.message = last->message != nullptr ? last->message : "unknown libvirt error";
  } else {
    e.message = "libvirt call failed without reporting an error";
  }
  return e;
}

LvError LvError::Make(int code, int domain, std::string message) {
  LvError e;
  e.code = code;
  e.domain = domain;
  e.message = std::move(message);
  return e;
}

Napi::Error MakeJsError(Napi::Env env, const LvError& err) {
  Napi::Error e = Napi::Error::New(env, err.message);
  Napi::Object o = e.Value();
  o.Set("code", Napi::Number::New(env, err.code));
  o.Set("domain", Napi::Number::New(env, err.domain));
  o.Set("libvirtMessage", Napi::String::New(env, err.message));
  o.Set("isLibvirtError", Napi::Boolean::New(env, true));
  return e;
}

Task::Task(Napi::Env env, const char* name, virConnectPtr conn, Job job, Napi::Object keepAlive)
    : Napi::AsyncWorker(env, name),
      deferred_(Napi::Promise::Deferred::New(env)),
      conn_(conn),
      job_(std::move(job)) {
  if (!keepAlive.IsEmpty()) keepAlive_ = Napi::Persistent(keepAlive);
}

Task::~Task() { ReleaseConn(); }

void Task::ReleaseConn() {
  if (conn_ != nullptr) {
    virConnectClose(conn_);
    conn_ = nullptr;
  }
}

void Task::Execute() {
  try {
    builder_ = job_(conn_);
  } catch (const LvError& e) {
    failed_ = true;
    err_ = e;
  } catch (const std::exception& e) {
    failed_ = true;
    err_ = LvError::Make(VIR_ERR_INTERNAL_ERROR, VIR_FROM_NONE, e.what());
  }
  // Dropping the reference may be the final close of a connection (the user
  // called close() while this call was in flight); do it off the JS thread.
  ReleaseConn();
}

void Task::OnOK() {
  Napi::Env env = Env();
  Napi::HandleScope scope(env);
  if (failed_) {
    if (onFailure_) onFailure_();
    deferred_.Reject(MakeJsError(env, err_).Value());
    return;
  }
  try {
    deferred_.Resolve(builder_ ? builder_(env) : env.Undefined());
  } catch (const Napi::Error& e) {
    deferred_.Reject(e.Value());
  }
}

void Task::OnError(const Napi::Error& e) {
  Napi::HandleScope scope(Env());
  if (onFailure_) onFailure_();
  deferred_.Reject(e.Value());
}

Napi::Value RejectedPromise(Napi::Env env, const LvError& err) {
  auto d = Napi::Promise::Deferred::New(env);
  d.Reject(MakeJsError(env, err).Value());
  return d.Promise();
}

std::string TakeString(char* s) {
  if (s == nullptr) return std::string();
  std::string out(s);
  free(s);
  return out;
}

DomainPtr LookupDomain(virConnectPtr c, const std::string& name) {
  virDomainPtr d = virDomainLookupByName(c, name.c_str());
  if (d == nullptr) ThrowLast();
  return DomainPtr(d);
}

PoolPtr LookupPool(virConnectPtr c, const std::string& name) {
  virStoragePoolPtr p = virStoragePoolLookupByName(c, name.c_str());
  if (p == nullptr) ThrowLast();
  return PoolPtr(p);
}

VolPtr LookupVol(virConnectPtr c, const std::string& pool, const std::string& name) {
  PoolPtr p = LookupPool(c, pool);
  virStorageVolPtr v = virStorageVolLookupByName(p, name.c_str());
  if (v == nullptr) ThrowLast();
  return VolPtr(v);
}

NetPtr LookupNetwork(virConnectPtr c, const std::string& name) {
  virNetworkPtr n = virNetworkLookupByName(c, name.c_str());
  if (n == nullptr) ThrowLast();
  return NetPtr(n);
}

std::string ArgString(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsString()) {
    throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a string");
  }
  return info[i].As<Napi::String>().Utf8Value();
}

unsigned int ArgFlags(const Napi::CallbackInfo& info, size_t i) {
  if (info.Length() <= i || info[i].IsUndefined() || info[i].IsNull()) return 0;
  if (!info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), "flags must be a number");
  double v = info[i].As<Napi::Number>().DoubleValue();
  if (v < 0 || v > 4294967295.0 || v != static_cast<double>(static_cast<unsigned int>(v))) {
    throw Napi::TypeError::New(info.Env(), "flags must be an unsigned 32-bit integer");
  }
  return static_cast<unsigned int>(v);
}

int ArgInt(const Napi::CallbackInfo& info, size_t i, const char* what, int fallback) {
  if (info.Length() <= i || info[i].IsUndefined() || info[i].IsNull()) return fallback;
  if (!info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a number");
  return info[i].As<Napi::Number>().Int32Value();
}

bool ArgBool(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsBoolean()) {
    throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a boolean");
  }
  return info[i].As<Napi::Boolean>().Value();
}

}  // namespace kaas
