// Reading a domain's character channel (virDomainOpenChannel) through a
// non-blocking libvirt stream. Readable events arrive on libvirt's event loop
// thread (virStreamEventAddCallback), so no libuv thread waits on a guest;
// data and the end of the stream reach JS through a Sink.
#pragma once

#include <libvirt/libvirt.h>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "common.h"
#include "events.h"

namespace kaas {

struct ChannelRegistry;

// One open channel stream. Shared by the registry (until it ends or is
// closed), by the opaque of its stream callback (`holder`, released on
// libvirt's event loop thread once the callback is removed, so never during a
// dispatch of it) and by the call closing it; the stream is freed with the
// last of them.
struct Channel {
  Channel();
  ~Channel();

  int id = 0;
  std::mutex mu;
  virStreamPtr st = nullptr;
  std::shared_ptr<Channel>* holder = nullptr;
  // Callback registered and the stream neither finished nor aborted.
  bool open = false;
  // Data is being dropped because JS has not caught up (see kMaxPendingBytes).
  bool dropping = false;
  std::shared_ptr<Sink> sink;
  // Bytes posted to JS and not yet delivered; shared with the payloads.
  std::shared_ptr<std::atomic<size_t>> pending = std::make_shared<std::atomic<size_t>>(0);
  std::weak_ptr<ChannelRegistry> registry;
};

// The open channels of one connection. Never locked together with a
// Channel's own mutex except registry-then-channel while a channel is being
// registered; nothing takes them in the other order.
struct ChannelRegistry {
  std::mutex mu;
  std::map<int, std::shared_ptr<Channel>> channels;
  int nextId = 1;
  bool tornDown = false;  // the connection is gone: no channel may be added
};

enum class ChannelEnd { Eof, Error, Connection };

// Opens `channelName` of domain `domainName` and registers it; runs on a
// worker thread. Returns the channel id. Throws LvError (and closes the sink)
// on failure.
int OpenChannel(virConnectPtr c, const std::shared_ptr<ChannelRegistry>& registry,
                const std::shared_ptr<Sink>& sink, const std::string& domainName,
                const std::string& channelName, unsigned int flags);

// Stops reading and aborts the stream if it is still open. With `post`, JS is
// told how it ended. Safe to call more than once and from any thread except
// libvirt's event loop thread while it holds the channel.
void ShutdownChannel(const std::shared_ptr<Channel>& ch, bool post, ChannelEnd why);

// Channel objects alive in the process (for tests: every one must go away).
size_t LiveChannels();

// Closes one channel by id; a channel that already ended is not an error.
void CloseChannel(const std::shared_ptr<ChannelRegistry>& registry, int id);

// Ends every channel of a connection that is being torn down.
void CloseAllChannels(const std::shared_ptr<ChannelRegistry>& registry);

}  // namespace kaas
