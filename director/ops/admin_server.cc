// Admin socket adapter: creation (parent dir, stale socket, 0600 from the start via umask),
// peer credential check, and bounded, timed one-line request/reply exchanges.
#include "director/ops/admin_server.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "conf/log.h"
#include "director/protocol/admin_protocol.h"

namespace tsd::director {

struct AdminServer::Client {
  AdminServer* server = nullptr;
  bufferevent* bev = nullptr;
  bool replied = false;
  std::string refusal;  // set: the peer may not use the socket; this is its reply
  ~Client() {
    if (bev != nullptr) bufferevent_free(bev);
  }
};

namespace {

std::string errorLine(const std::string& why) { return protocol::encodeError(why); }

// mkdir -p with 0755 for the directories it creates.
Status makeParents(const std::string& path) {
  for (size_t i = 1; i < path.size(); ++i) {
    if (path[i] != '/') continue;
    std::string dir = path.substr(0, i);
    if (mkdir(dir.c_str(), 0755) < 0 && errno != EEXIST) {
      return makeError("creating " + dir + ": " + strerror(errno));
    }
  }
  return {};
}

// A leftover socket from a crashed daemon is removed; a live one means another daemon.
Status clearStale(const std::string& path, const sockaddr_un& sun) {
  struct stat st {};
  if (lstat(path.c_str(), &st) < 0) return {};
  if (!S_ISSOCK(st.st_mode)) return makeError(path + " exists and is not a socket");
  UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (::connect(probe.get(), reinterpret_cast<const sockaddr*>(&sun), sizeof sun) == 0) {
    return makeError(path + " is in use by another running daemon");
  }
  if (unlink(path.c_str()) < 0) return makeError("removing stale " + path + ": " + strerror(errno));
  return {};
}

}  // namespace

Result<std::unique_ptr<AdminServer>> AdminServer::start(event_base* base, const std::string& path,
                                                        Handler handler) {
  sockaddr_un sun{};
  sun.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof sun.sun_path) {
    return makeError("admin socket path '" + path + "' is empty or too long");
  }
  memcpy(sun.sun_path, path.data(), path.size());
  if (Status s = makeParents(path); !s.ok()) return makeError(s.error());
  if (Status s = clearStale(path, sun); !s.ok()) return makeError(s.error());
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return makeError(std::string("admin socket: ") + strerror(errno));
  mode_t old = umask(0177);  // the socket is never reachable by others, not even briefly
  int rc = ::bind(fd.get(), reinterpret_cast<const sockaddr*>(&sun), sizeof sun);
  int err = errno;
  umask(old);
  if (rc < 0) return makeError("binding admin socket " + path + ": " + strerror(err));
  std::unique_ptr<AdminServer> s(new AdminServer(base, path, std::move(handler)));
  struct stat st {};
  if (chmod(path.c_str(), 0600) < 0 || stat(path.c_str(), &st) < 0) {
    return makeError("admin socket " + path + ": " + strerror(errno));
  }
  s->inode_ = st.st_ino;
  s->listener_ = evconnlistener_new(base, &AdminServer::onAccept, s.get(),
                                    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 16, fd.get());
  if (s->listener_ == nullptr) return makeError("admin socket " + path + ": cannot listen");
  fd.release();
  LOG_INFO("admin socket %s", path.c_str());
  return s;
}

AdminServer::AdminServer(event_base* base, std::string path, Handler h)
    : base_(base), path_(std::move(path)), handler_(std::move(h)) {}

AdminServer::~AdminServer() {
  clients_.clear();
  if (listener_ != nullptr) evconnlistener_free(listener_);
  struct stat st {};
  if (inode_ != 0 && stat(path_.c_str(), &st) == 0 && st.st_ino == inode_) unlink(path_.c_str());
}

void AdminServer::onAccept(evconnlistener*, int fd, struct sockaddr*, int, void* arg) {
  static_cast<AdminServer*>(arg)->accept(UniqueFd(fd));
}

void AdminServer::accept(UniqueFd fd) {
  ucred cred{};
  socklen_t len = sizeof cred;
  std::string refuse;
  if (getsockopt(fd.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
    refuse = std::string("cannot check peer credentials: ") + strerror(errno);
  } else if (cred.uid != 0 && cred.uid != geteuid()) {
    refuse = "permission denied: uid " + std::to_string(cred.uid) +
             " may not use the admin socket (root or the daemon's user only)";
  }
  if (clients_.size() >= kMaxAdminClients) {
    LOG_WARN("admin socket: too many clients, closing a new one");
    return;  // fd closes
  }
  if (!refuse.empty()) {
    LOG_WARN("admin socket: refused pid %d: %s", static_cast<int>(cred.pid), refuse.c_str());
  }
  evutil_make_socket_nonblocking(fd.get());
  auto c = std::make_unique<Client>();
  c->server = this;
  // A refused peer still gets its request read, then the refusal as the reply: closing on
  // it with unread data would reset the connection before the client could read why.
  if (!refuse.empty()) c->refusal = errorLine(refuse);
  c->bev = bufferevent_socket_new(base_, fd.release(), BEV_OPT_CLOSE_ON_FREE);
  if (c->bev == nullptr) return;
  timeval tv{kAdminTimeoutSeconds, 0};
  bufferevent_set_timeouts(c->bev, &tv, &tv);
  bufferevent_setwatermark(c->bev, EV_READ, 0, protocol::kMaxRequestBytes + 1);
  bufferevent_setcb(c->bev, &AdminServer::onRead, nullptr, &AdminServer::onEvent, c.get());
  bufferevent_enable(c->bev, EV_READ);
  Client* key = c.get();
  clients_[key] = std::move(c);
}

void AdminServer::onRead(bufferevent* bev, void* arg) {
  auto* c = static_cast<Client*>(arg);
  if (c->replied) return;
  evbuffer* in = bufferevent_get_input(bev);
  size_t n = 0;
  char* line = evbuffer_readln(in, &n, EVBUFFER_EOL_LF);
  if (line == nullptr) {
    if (evbuffer_get_length(in) > protocol::kMaxRequestBytes) {
      c->server->reply(*c, errorLine("request longer than " +
                                     std::to_string(protocol::kMaxRequestBytes) + " bytes"));
    }
    return;
  }
  std::string request(line, n);
  free(line);
  if (n > protocol::kMaxRequestBytes) {
    c->server->reply(*c, errorLine("request too long"));
    return;
  }
  c->server->answer(*c, request);
}

void AdminServer::answer(Client& c, const std::string& request) {
  if (c.refusal.empty() && takeover_ && request == "takeover") {
    UniqueFd fd(::fcntl(bufferevent_getfd(c.bev), F_DUPFD_CLOEXEC, 0));
    drop(c);
    if (fd.valid()) takeover_(std::move(fd));
    return;
  }
  reply(c, c.refusal.empty() ? handler_(request) : c.refusal);
}

void AdminServer::reply(Client& c, const std::string& text) {
  c.replied = true;
  bufferevent_disable(c.bev, EV_READ);
  bufferevent_setcb(c.bev, nullptr, &AdminServer::onWritten, &AdminServer::onEvent, &c);
  bufferevent_write(c.bev, text.data(), text.size());
}

void AdminServer::onWritten(bufferevent*, void* arg) {
  auto* c = static_cast<Client*>(arg);
  c->server->drop(*c);
}

void AdminServer::onEvent(bufferevent*, short what, void* arg) {
  auto* c = static_cast<Client*>(arg);
  if ((what & BEV_EVENT_EOF) && !c->replied) {
    // The client closed its side after the request without a newline: treat it as the line.
    evbuffer* in = bufferevent_get_input(c->bev);
    size_t len = evbuffer_get_length(in);
    if (len > 0 && len <= protocol::kMaxRequestBytes) {
      std::string request(len, '\0');
      evbuffer_remove(in, request.data(), len);
      c->server->answer(*c, request);
      return;
    }
  }
  c->server->drop(*c);
}

void AdminServer::drop(Client& c) { clients_.erase(&c); }

}  // namespace tsd::director
