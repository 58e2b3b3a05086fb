// HttpServer: a small read-only HTTP endpoint (libevent evhttp) on the director's own event
// loop, for the status page (/), /status.json, /metrics, /nodes and /healthz. Single-threaded
// like everything else on the loop.
#pragma once

#include <event2/event.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "conf/result.h"
#include "conf/sock_addr.h"

struct evhttp;
struct evhttp_request;

namespace tsd::director {

class HttpServer {
 public:
  struct Response {
    int status = 200;
    std::string content_type = "text/plain; charset=utf-8";
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;  // extra response headers
  };
  using Handler = std::function<Response()>;

  // Binds `addr` and serves GET/HEAD; other methods get 405, unknown paths 404.
  static Result<std::unique_ptr<HttpServer>> start(event_base* base, const SockAddr& addr);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  void route(std::string path, Handler h) { routes_[std::move(path)] = std::move(h); }
  const SockAddr& address() const { return addr_; }

 private:
  HttpServer(evhttp* http, SockAddr addr) : http_(http), addr_(addr) {}
  static void onRequest(evhttp_request* req, void* arg);

  evhttp* http_;
  SockAddr addr_;
  std::map<std::string, Handler, std::less<>> routes_;
};

}  // namespace tsd::director
