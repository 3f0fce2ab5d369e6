// Module entry: initialises libvirt (once per process) before anything can
// open a connection, then exports the Connection class and the constants
// (and trimMemory, the process's one other native need: memory.cc).
#include <napi.h>

#include "channel.h"
#include "connection.h"
#include "events.h"

namespace kaas {
Napi::Object MakeConstants(Napi::Env env);
Napi::Value TrimMemory(const Napi::CallbackInfo& info);
}

namespace {

Napi::Value GetVersion(const Napi::CallbackInfo& info) {
  unsigned long v = 0;
  if (virGetVersion(&v, nullptr, nullptr) < 0) {
    throw kaas::MakeJsError(info.Env(), kaas::LvError::Last());
  }
  return Napi::Number::New(info.Env(), static_cast<double>(v));
}

Napi::Value GetLiveChannels(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(kaas::LiveChannels()));
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  std::string error;
  if (!kaas::EnsureLibvirtInitialized(&error)) {
    throw Napi::Error::New(env, "libvirt initialisation failed: " + error);
  }
  exports.Set("Connection", kaas::Connection::Define(env));
  exports.Set("constants", kaas::MakeConstants(env));
  exports.Set("getVersion", Napi::Function::New(env, GetVersion, "getVersion"));
  exports.Set("liveChannels", Napi::Function::New(env, GetLiveChannels, "liveChannels"));
  exports.Set("trimMemory", Napi::Function::New(env, kaas::TrimMemory, "trimMemory"));
  return exports;
}

}  // namespace

NODE_API_MODULE(kaas_libvirt, Init)
