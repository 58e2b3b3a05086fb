// evhttp adapter: binds with the same socket helper as the service listeners, bounds header
// and body sizes and idle time, and dispatches by exact path.
#include "director/ops/http_server.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "director/dataplane/listener.h"

namespace tsd::director {
namespace {
constexpr int kTimeoutSeconds = 10;
constexpr size_t kMaxHeaders = 8192;
constexpr size_t kMaxBody = 1024;
}  // namespace

Result<std::unique_ptr<HttpServer>> HttpServer::start(event_base* base, const SockAddr& addr) {
  auto fd = Listener::bindSocket(addr, 128);
  if (!fd.ok()) return makeError("metrics listener " + addr.toString() + ": " + fd.error());
  evhttp* http = evhttp_new(base);
  if (http == nullptr) return makeError("evhttp_new failed");
  std::unique_ptr<HttpServer> s(new HttpServer(http, addr));
  // evhttp owns the socket from here (closed by evhttp_free).
  if (evhttp_accept_socket_with_handle(http, fd->get()) == nullptr) {
    return makeError("metrics listener " + addr.toString() + ": cannot accept");
  }
  fd->release();
  evhttp_set_timeout(http, kTimeoutSeconds);
  evhttp_set_max_headers_size(http, kMaxHeaders);
  evhttp_set_max_body_size(http, kMaxBody);
  evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
  evhttp_set_gencb(http, &HttpServer::onRequest, s.get());
  return s;
}

HttpServer::~HttpServer() { evhttp_free(http_); }

void HttpServer::onRequest(evhttp_request* req, void* arg) {
  auto* self = static_cast<HttpServer*>(arg);
  const evhttp_uri* uri = evhttp_request_get_evhttp_uri(req);
  const char* path = uri != nullptr ? evhttp_uri_get_path(uri) : nullptr;
  std::string_view p = path != nullptr && *path != '\0' ? path : "/";
  auto it = self->routes_.find(p);
  Response r;
  if (it == self->routes_.end()) {
    r.status = 404;
    r.body = "not found; try /, /status.json, /metrics, /nodes or /healthz\n";
  } else {
    r = it->second();
  }
  evkeyvalq* headers = evhttp_request_get_output_headers(req);
  evhttp_add_header(headers, "Content-Type", r.content_type.c_str());
  evhttp_add_header(headers, "Cache-Control", "no-store");
  evhttp_add_header(headers, "X-Content-Type-Options", "nosniff");
  for (const auto& [k, v] : r.headers) evhttp_add_header(headers, k.c_str(), v.c_str());
  evbuffer* body = evbuffer_new();
  evbuffer_add(body, r.body.data(), r.body.size());
  evhttp_send_reply(req, r.status, r.status == 200 ? "OK" : "Error", body);
  evbuffer_free(body);
}

}  // namespace tsd::director
