// AdminServer: the admin unix socket on the director's event loop. Mode 0600 in a directory it
// creates 0755 if missing; peers are checked with SO_PEERCRED (root or the daemon's own user).
// Each client sends one request line (at most protocol::kMaxRequestBytes) and gets one reply line.
#pragma once

#include <event2/event.h>
#include <sys/types.h>

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "conf/result.h"
#include "director/base/unique_fd.h"

struct evconnlistener;
struct bufferevent;

namespace tsd::director {

inline constexpr int kAdminTimeoutSeconds = 10;
inline constexpr size_t kMaxAdminClients = 16;

class AdminServer {
 public:
  // A request line (newline stripped) -> a reply line ending in '\n'.
  using Handler = std::function<std::string(std::string_view line)>;

  static Result<std::unique_ptr<AdminServer>> start(event_base* base, const std::string& path,
                                                    Handler handler);
  ~AdminServer();  // closes clients; removes the socket file if it is still ours
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  const std::string& path() const { return path_; }
  // The request line "takeover" (from an allowed peer) hands that connection's fd to `h`
  // instead of the line handler: the start of a live hand-over (docs/operations.md).
  using TakeoverHandler = std::function<void(UniqueFd connection)>;
  void setTakeoverHandler(TakeoverHandler h) { takeover_ = std::move(h); }

 private:
  struct Client;
  AdminServer(event_base* base, std::string path, Handler h);
  static void onAccept(evconnlistener*, int fd, struct sockaddr*, int, void* arg);
  static void onRead(bufferevent* bev, void* arg);
  static void onWritten(bufferevent* bev, void* arg);
  static void onEvent(bufferevent* bev, short what, void* arg);
  void accept(UniqueFd fd);
  void answer(Client& c, const std::string& request);
  void reply(Client& c, const std::string& text);  // sends, then closes when flushed
  void drop(Client& c);

  event_base* base_;
  std::string path_;
  Handler handler_;
  TakeoverHandler takeover_;
  evconnlistener* listener_ = nullptr;
  ino_t inode_ = 0;
  std::map<Client*, std::unique_ptr<Client>> clients_;
};

}  // namespace tsd::director
