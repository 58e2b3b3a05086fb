// The user rule of the decision order: a bounce pin, else the home of the identity's only
// user, before the session index and the sticky table; an identity with several users (NAT)
// is never guessed; unusable homes fall through; a failed home falls back.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <vector>

#include "director/placement/placement.h"

namespace tsd::director {
namespace {

struct UserInputs : PlacementInputs {
  std::set<NodeId> down;
  std::optional<NodeId> pin;
  std::vector<std::string> users_of;
  std::map<std::string, std::vector<NodeId>> homes;  // ranked session nodes per user
  std::optional<NodeId> session_node;
  std::optional<NodeId> sticky_node;
  NodeId scheduled = 4;

  bool acceptsReturning(NodeId n, ServiceId) const override { return !down.count(n); }
  std::optional<NodeId> userPin(const sticky::Identity&,
                                const std::function<bool(NodeId)>& usable) const override {
    return pin && usable(*pin) ? pin : std::nullopt;
  }
  std::vector<std::string> users(const sticky::Identity&) const override { return users_of; }
  std::optional<NodeId> home(std::string_view user,
                             const std::function<bool(NodeId)>& usable) const override {
    auto it = homes.find(std::string(user));
    if (it == homes.end()) return std::nullopt;
    for (NodeId n : it->second) {
      if (usable(n)) return n;
    }
    return std::nullopt;
  }
  std::optional<SessionHit> session(const sticky::Identity&,
                                    const std::function<bool(NodeId)>& usable) const override {
    if (session_node && usable(*session_node)) return SessionHit{*session_node, false};
    return std::nullopt;
  }
  std::optional<NodeId> sticky(const sticky::Identity&) const override { return sticky_node; }
  std::optional<NodeId> schedule(ServiceId, uint64_t, std::span<const NodeId> tried) override {
    for (NodeId n : {scheduled, NodeId{3}}) {
      if (std::find(tried.begin(), tried.end(), n) == tried.end() && !down.count(n)) return n;
    }
    return std::nullopt;
  }
};

const sticky::Identity kId{"192.0.2.1/32"};

Placement place(UserInputs& in, std::vector<NodeId> tried = {},
                std::optional<Reason> previous = {}) {
  PlacementRequest req;
  req.identity = &kId;
  req.tried = tried;
  req.previous = previous;
  return decide(req, in);
}

TEST(UserRule, OneKnownUserGoesHomeBeforeSessionAndSticky) {
  UserInputs in;
  in.users_of = {"alice"};
  in.homes["alice"] = {1};
  in.session_node = 2;
  in.sticky_node = 3;
  Placement p = place(in);
  EXPECT_EQ(p.node, 1u);
  EXPECT_EQ(p.reason, Reason::kUser);
}

TEST(UserRule, UserWithoutAHomeFallsThroughToTheSessionIndex) {
  UserInputs in;
  in.users_of = {"alice"};
  in.session_node = 2;
  EXPECT_EQ(place(in).reason, Reason::kSession);
}

TEST(UserRule, DownHomeTakesTheNextBestSessionOfTheUser) {
  UserInputs in;
  in.users_of = {"alice"};
  in.homes["alice"] = {1, 2};
  in.down = {1};
  Placement p = place(in);
  EXPECT_EQ(p.node, 2u);
  EXPECT_EQ(p.reason, Reason::kUser);
}

TEST(UserRule, SharedAddressIsNeverGuessed) {
  UserInputs in;
  in.users_of = {"alice", "bob"};
  in.homes["alice"] = {1};
  in.homes["bob"] = {2};
  in.sticky_node = 3;
  Placement p = place(in);  // today's behaviour: the sticky table
  EXPECT_EQ(p.node, 3u);
  EXPECT_EQ(p.reason, Reason::kSticky);
  in.sticky_node.reset();
  EXPECT_EQ(place(in).reason, Reason::kScheduler);
}

TEST(UserRule, BouncePinWinsEvenForASharedAddress) {
  UserInputs in;
  in.users_of = {"alice", "bob"};
  in.homes["alice"] = {1};
  in.pin = 2;  // bob was bounced: his retry goes to his home
  Placement p = place(in);
  EXPECT_EQ(p.node, 2u);
  EXPECT_EQ(p.reason, Reason::kUser);
  in.down = {2};  // a pin towards a node that went down is not used
  EXPECT_EQ(place(in).reason, Reason::kScheduler);
}

TEST(UserRule, FailedHomeFallsBackToTheScheduler) {
  UserInputs in;
  in.users_of = {"alice"};
  in.homes["alice"] = {1};
  Placement p = place(in, {1}, Reason::kUser);
  EXPECT_EQ(p.node, 4u);
  EXPECT_EQ(p.reason, Reason::kFallback);
}

TEST(UserRule, NoIdentityOrManualChoiceSkipsIt) {
  UserInputs in;
  in.users_of = {"alice"};
  in.homes["alice"] = {1};
  PlacementRequest req;
  EXPECT_EQ(decide(req, in).reason, Reason::kScheduler);
  req.identity = &kId;
  req.manual = 2;
  EXPECT_EQ(decide(req, in).reason, Reason::kManual);
  req.manual = kNoId;
  req.returning = false;  // sticky_key = none
  EXPECT_EQ(decide(req, in).reason, Reason::kScheduler);
}

}  // namespace
}  // namespace tsd::director
