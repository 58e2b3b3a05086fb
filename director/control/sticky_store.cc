// Sticky persistence on the loop: one write every few seconds at most, atomic on disk.
#include "director/control/sticky_store.h"

#include <unistd.h>

#include "conf/log.h"
#include "sticky/admin_state.h"
#include "sticky/persistence.h"
#include "sticky/user_state.h"

namespace tsd::director {
namespace {
constexpr auto kSaveEvery = std::chrono::seconds(10);
constexpr size_t kMaxStateFile = 512u << 20;
}  // namespace

StickyStore::StickyStore(event_base* base) : base_(base), table_(100000, std::chrono::hours(8)) {}

void StickyStore::start(const std::string& state_dir) {
  path_ = state_dir + "/" + std::string(sticky::kStateFileName);
  admin_path_ = state_dir + "/" + std::string(sticky::kAdminStateFileName);
  users_path_ = state_dir + "/" + std::string(sticky::kUserStateFileName);
  timer_.reset(event_new(
      base_, -1, EV_PERSIST,
      [](evutil_socket_t, short, void* a) {
        auto* s = static_cast<StickyStore*>(a);
        if (s->dirty_) s->save();
      },
      this));
  timeval tv = toTimeval(kSaveEvery);
  event_add(timer_.get(), &tv);
}

void StickyStore::stop() {
  save();
  timer_.reset();
}

void StickyStore::save() {
  if (path_.empty()) return;
  auto now = Clock::now();
  table_.expire(now);
  Status s = sticky::saveAtomically(path_, sticky::serialize(table_, now));
  if (!s.ok()) {
    LOG_WARN("saving sticky state: %s", s.error().c_str());
    return;
  }
  saveUsers();
  dirty_ = false;
}

void StickyStore::saveUsers() {
  if (users_path_.empty()) return;
  users_.expire(Clock::now(), kLearnedMaxAge);
  Status s = sticky::saveAtomically(users_path_, sticky::serializeUsers(users_));
  if (!s.ok()) LOG_WARN("saving users state: %s", s.error().c_str());
}

void StickyStore::loadUsers() {
  auto data = sticky::readFile(users_path_, sticky::kMaxUserStateFileBytes);
  if (!data.ok()) {
    if (access(users_path_.c_str(), F_OK) == 0) {
      LOG_WARN("users state not loaded: %s", data.error().c_str());
    }
    return;
  }
  auto n = sticky::restoreUsers(users_, *data, Clock::now(), kLearnedMaxAge);
  if (!n.ok()) {
    LOG_WARN("users state %s ignored: %s", users_path_.c_str(), n.error().c_str());
    return;
  }
  LOG_INFO("users state: %zu identity-user pairs restored from %s", *n, users_path_.c_str());
}

void StickyStore::load(NodeTable& nodes) {
  loadUsers();
  auto data = sticky::readFile(path_, kMaxStateFile);
  if (!data.ok()) {
    if (access(path_.c_str(), F_OK) == 0)
      LOG_WARN("sticky state not loaded: %s", data.error().c_str());
    return;
  }
  auto n = sticky::restore(table_, *data, Clock::now(),
                           [&](std::string_view node) { return nodes.find(node) != nullptr; });
  if (!n.ok()) {
    LOG_WARN("sticky state %s ignored: %s", path_.c_str(), n.error().c_str());
    return;
  }
  table_.retag([&](std::string_view node) {
    NodeRuntime* rt = nodes.find(node);
    return rt != nullptr ? rt->id : sticky::kNoTag;
  });
  LOG_INFO("sticky state: %zu entries restored from %s", table_.size(), path_.c_str());
}

void StickyStore::saveAdmin(const NodeTable& nodes) {
  if (admin_path_.empty()) return;
  std::vector<sticky::AdminOverride> out;
  for (const auto& n : nodes.all()) {
    if (n->removed || (!n->admin_state && !n->admin_weight)) continue;
    out.push_back({n->cfg.name, n->admin_state, n->admin_weight, n->cfg.state, n->cfg.weight});
  }
  Status s = sticky::saveAtomically(admin_path_, sticky::serializeAdmin(out));
  if (!s.ok()) LOG_WARN("saving admin state: %s", s.error().c_str());
}

void StickyStore::loadAdmin(NodeTable& nodes) {
  auto data = sticky::readFile(admin_path_, sticky::kMaxAdminStateBytes);
  if (!data.ok()) {
    if (access(admin_path_.c_str(), F_OK) == 0) {
      LOG_WARN("admin state not loaded: %s", data.error().c_str());
    }
    return;
  }
  auto overrides = sticky::parseAdmin(*data);
  if (!overrides.ok()) {
    LOG_WARN("admin state %s ignored: %s", admin_path_.c_str(), overrides.error().c_str());
    return;
  }
  for (const auto& o : *overrides) {
    NodeRuntime* n = nodes.find(o.node);
    if (n == nullptr) continue;  // removed from the config since
    // The file changed that setting since the admin's change: the file wins, as on reload.
    if (o.state && n->cfg.state == o.file_state) n->admin_state = o.state;
    if (o.weight && n->cfg.weight == o.file_weight) n->admin_weight = o.weight;
    if (n->admin_state || n->admin_weight) {
      LOG_INFO("node %s: runtime %s%s%s restored", n->cfg.name.c_str(),
               n->admin_state ? std::string(conf::toString(*n->admin_state)).c_str() : "",
               n->admin_state && n->admin_weight ? ", " : "",
               n->admin_weight ? ("weight " + std::to_string(*n->admin_weight)).c_str() : "");
    }
  }
}

}  // namespace tsd::director
