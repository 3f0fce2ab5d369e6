#include "channel.h"

#include <libvirt/virterror.h>

#include <array>

#include "connection.h"

namespace kaas {

namespace {

// One virStreamRecv reads at most this much; libvirt's stream packets carry
// at most 256 KiB, a guest's status line is a few hundred bytes.
constexpr size_t kChunk = 64 * 1024;
// Reads per readable event: libvirt calls again while data is queued, so a
// guest that floods its channel cannot hold the event loop thread.
constexpr int kMaxReadsPerEvent = 16;
// Bytes allowed in flight towards a JS thread that has not caught up. Beyond
// this, data is dropped (and JS told so) rather than queued without bound:
// what a guest writes is untrusted.
constexpr size_t kMaxPendingBytes = 1024 * 1024;

struct ChannelDataPayload : Payload {
  std::string data;
  std::shared_ptr<std::atomic<size_t>> pending;
  ~ChannelDataPayload() override {
    if (pending) pending->fetch_sub(data.size());
  }
  Napi::Value ToJs(Napi::Env env) const override {
    Napi::Object o = Napi::Object::New(env);
    o.Set("type", "data");
    o.Set("data", Napi::Buffer<char>::Copy(env, data.data(), data.size()));
    return o;
  }
};

struct ChannelGapPayload : Payload {
  Napi::Value ToJs(Napi::Env env) const override {
    Napi::Object o = Napi::Object::New(env);
    o.Set("type", "gap");
    return o;
  }
};

struct ChannelEndPayload : Payload {
  ChannelEnd why = ChannelEnd::Eof;
  bool hasError = false;
  LvError err;
  Napi::Value ToJs(Napi::Env env) const override {
    Napi::Object o = Napi::Object::New(env);
    o.Set("type", "end");
    o.Set("reason", why == ChannelEnd::Eof ? "eof" : why == ChannelEnd::Error ? "error" : "connection");
    if (hasError) {
      o.Set("code", err.code);
      o.Set("domain", err.domain);
      o.Set("message", err.message);
    }
    return o;
  }
};

void PostData(Channel& ch, const char* data, size_t n) {
  if (ch.pending->load() + n > kMaxPendingBytes) {
    if (!ch.dropping) {
      ch.dropping = true;
      ch.sink->Post(new ChannelGapPayload());
    }
    return;
  }
  ch.dropping = false;
  auto* p = new ChannelDataPayload();
  p->data.assign(data, n);
  p->pending = ch.pending;
  ch.pending->fetch_add(n);
  ch.sink->Post(p);
}

void ReleaseHolderOnLoop(int timer, void* opaque) {
  virEventRemoveTimeout(timer);
  delete static_cast<std::shared_ptr<Channel>*>(opaque);
}

// libvirt 9.0's remote driver never calls the free callback given to
// virStreamEventAddCallback (remoteStreamCallbackFree tests a field that is
// never NULL; fixed upstream in 2025), so the callback's opaque is released
// here instead: on the event loop thread, the only one that runs the
// callback, after it was removed, hence after any dispatch already under way.
// Caller holds ch.mu and another reference than the holder.
void ReleaseHolderLocked(Channel& ch) {
  std::shared_ptr<Channel>* h = ch.holder;
  ch.holder = nullptr;
  if (h == nullptr) return;
  // The default event loop cannot refuse a timeout; if one ever did, keeping
  // the channel is better than freeing what a dispatch may still read.
  virEventAddTimeout(0, ReleaseHolderOnLoop, h, nullptr);
}

// Caller holds ch.mu and ch.open is true.
void EndLocked(Channel& ch, bool graceful, bool post, ChannelEnd why, const LvError* err) {
  ch.open = false;
  virStreamEventRemoveCallback(ch.st);
  ReleaseHolderLocked(ch);
  // After EOF libvirt expects a finish; anything else is an abort. Either
  // may fail on a dead connection, which leaves nothing to clean up.
  if (graceful) {
    virStreamFinish(ch.st);
  } else {
    virStreamAbort(ch.st);
  }
  virResetLastError();
  if (post) {
    auto* p = new ChannelEndPayload();
    p->why = why;
    if (err != nullptr) {
      p->hasError = true;
      p->err = *err;
    }
    ch.sink->Post(p);
  }
  ch.sink->Close();
}

void Forget(const std::shared_ptr<Channel>& ch) {
  auto registry = ch->registry.lock();
  if (!registry) return;
  std::lock_guard<std::mutex> lock(registry->mu);
  auto it = registry->channels.find(ch->id);
  if (it != registry->channels.end() && it->second == ch) registry->channels.erase(it);
}

// Runs on libvirt's event loop thread.
void OnChannelEvent(virStreamPtr /*st*/, int events, void* opaque) {
  std::shared_ptr<Channel> ch = *static_cast<std::shared_ptr<Channel>*>(opaque);
  bool ended = false;
  {
    std::lock_guard<std::mutex> lock(ch->mu);
    if (!ch->open) return;
    // Only this thread runs stream callbacks, so one buffer serves them all.
    static thread_local std::array<char, kChunk> buf;
    bool drained = false;
    ChannelEnd why = ChannelEnd::Eof;
    LvError err;
    bool hasError = false;
    for (int i = 0; i < kMaxReadsPerEvent; i++) {
      int n = virStreamRecv(ch->st, buf.data(), buf.size());
      if (n > 0) {
        PostData(*ch, buf.data(), static_cast<size_t>(n));
        continue;
      }
      if (n == -2) {
        drained = true;
        break;
      }
      ended = true;
      if (n < 0) {
        why = ChannelEnd::Error;
        err = LvError::Last();
        hasError = true;
      }
      break;
    }
    if (!ended && drained && (events & (VIR_STREAM_EVENT_ERROR | VIR_STREAM_EVENT_HANGUP)) != 0) {
      ended = true;
      why = ChannelEnd::Error;
      err = LvError::Make(VIR_ERR_RPC, VIR_FROM_STREAMS, "channel stream hung up");
      hasError = true;
    }
    if (ended) EndLocked(*ch, why == ChannelEnd::Eof, true, why, hasError ? &err : nullptr);
  }
  if (ended) Forget(ch);
}

}  // namespace

static std::atomic<size_t> g_liveChannels{0};

Channel::Channel() { g_liveChannels++; }

Channel::~Channel() {
  g_liveChannels--;
  if (st != nullptr) virStreamFree(st);
  if (sink) sink->Close();
}

size_t LiveChannels() { return g_liveChannels.load(); }

int OpenChannel(virConnectPtr c, const std::shared_ptr<ChannelRegistry>& registry,
                const std::shared_ptr<Sink>& sink, const std::string& domainName,
                const std::string& channelName, unsigned int flags) {
  // Every failure below closes the sink through the channel's destructor, or
  // here before the channel exists.
  virDomainPtr dom = virDomainLookupByName(c, domainName.c_str());
  if (dom == nullptr) {
    LvError e = LvError::Last();
    sink->Close();
    throw e;
  }
  DomainPtr d(dom);
  virStreamPtr st = virStreamNew(c, VIR_STREAM_NONBLOCK);
  if (st == nullptr) {
    LvError e = LvError::Last();
    sink->Close();
    throw e;
  }
  auto ch = std::make_shared<Channel>();
  ch->st = st;
  ch->sink = sink;
  ch->registry = registry;
  if (virDomainOpenChannel(d, channelName.c_str(), st, flags) < 0) ThrowLast();

  std::lock_guard<std::mutex> regLock(registry->mu);
  if (registry->tornDown) {
    virStreamAbort(st);
    throw LvError::Make(VIR_ERR_INVALID_CONN, VIR_FROM_NONE, "connection is closed");
  }
  // Held until the channel is registered: the first event may arrive at once.
  std::lock_guard<std::mutex> chLock(ch->mu);
  auto* holder = new std::shared_ptr<Channel>(ch);
  int events = VIR_STREAM_EVENT_READABLE | VIR_STREAM_EVENT_ERROR | VIR_STREAM_EVENT_HANGUP;
  if (virStreamEventAddCallback(st, events, OnChannelEvent, holder, nullptr) < 0) {
    LvError e = LvError::Last();
    delete holder;
    virStreamAbort(st);
    throw e;
  }
  ch->holder = holder;
  ch->open = true;
  ch->id = registry->nextId++;
  registry->channels[ch->id] = ch;
  return ch->id;
}

void ShutdownChannel(const std::shared_ptr<Channel>& ch, bool post, ChannelEnd why) {
  std::lock_guard<std::mutex> lock(ch->mu);
  if (!ch->open) return;
  EndLocked(*ch, false, post, why, nullptr);
}

void CloseChannel(const std::shared_ptr<ChannelRegistry>& registry, int id) {
  std::shared_ptr<Channel> ch;
  {
    std::lock_guard<std::mutex> lock(registry->mu);
    auto it = registry->channels.find(id);
    if (it == registry->channels.end()) return;
    ch = it->second;
    registry->channels.erase(it);
  }
  ShutdownChannel(ch, false, ChannelEnd::Eof);
}

void CloseAllChannels(const std::shared_ptr<ChannelRegistry>& registry) {
  std::map<int, std::shared_ptr<Channel>> channels;
  {
    std::lock_guard<std::mutex> lock(registry->mu);
    registry->tornDown = true;
    channels.swap(registry->channels);
  }
  for (auto& [id, ch] : channels) ShutdownChannel(ch, true, ChannelEnd::Connection);
}

// domainOpenChannel(name, channelName, flags, callback) -> channel id
// The callback gets {type: 'data', data: Buffer}, {type: 'gap'} (data was
// dropped) and, last, {type: 'end', reason: 'eof'|'error'|'connection',
// code?, domain?, message?}. No end event follows channelClose().
Napi::Value Connection::DomainOpenChannel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = ArgString(info, 0, "name");
  std::string channelName = ArgString(info, 1, "channelName");
  unsigned int flags = ArgFlags(info, 2);
  if (info.Length() < 4 || !info[3].IsFunction()) {
    throw Napi::TypeError::New(env, "callback must be a function");
  }
  if (state_ != State::Open) {
    const char* why = state_ == State::Closed ? "connection is closed" : "connection is not open";
    return RejectedPromise(env, LvError::Make(VIR_ERR_INVALID_CONN, VIR_FROM_NONE, why));
  }
  auto sink = Sink::Create(env, info[3].As<Napi::Function>(), "libvirt.channel");
  auto registry = regs_->channels;
  return Run(info, "libvirt.domainOpenChannel",
             [sink, registry, name, channelName, flags](virConnectPtr c) -> Builder {
               int id = OpenChannel(c, registry, sink, name, channelName, flags);
               return [id](Napi::Env e) -> Napi::Value { return Napi::Number::New(e, id); };
             });
}

// channelClose(id): stops reading and aborts the stream; resolves also when
// the channel already ended.
Napi::Value Connection::ChannelClose(const Napi::CallbackInfo& info) {
  int id = ArgInt(info, 0, "channelId", -1);
  auto registry = regs_->channels;
  return Run(info, "libvirt.channelClose", [registry, id](virConnectPtr) -> Builder {
    CloseChannel(registry, id);
    return nullptr;
  });
}

}  // namespace kaas
