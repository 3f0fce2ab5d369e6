// Hands the C library's free memory back to the system. glibc keeps what a burst of work freed
// (V8's compiler zones, socket buffers, libvirt's replies) in its heaps, where it stays part of
// the process's resident memory until the process asks for it back: malloc_trim(0) returns every
// free page of every arena, not only the top of the main heap.
#include <napi.h>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace kaas {

Napi::Value TrimMemory(const Napi::CallbackInfo& info) {
#if defined(__GLIBC__)
  return Napi::Boolean::New(info.Env(), malloc_trim(0) == 1);
#else
  return Napi::Boolean::New(info.Env(), false);
#endif
}

}  // namespace kaas
