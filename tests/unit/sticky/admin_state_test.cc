// The admin state file: round trips, and every kind of damage refused with a line number.
#include "sticky/admin_state.h"

#include <gtest/gtest.h>

namespace tsd::sticky {
namespace {

using conf::NodeState;

TEST(AdminStateTest, RoundTrip) {
  std::vector<AdminOverride> in = {
      {"desk1", NodeState::kDrain, std::nullopt, NodeState::kActive, 1},
      {"desk-2.lab", std::nullopt, 5, NodeState::kActive, 2},
      {"n_3", NodeState::kMaint, 0, NodeState::kDrain, 1000},
  };
  std::string text = serializeAdmin(in);
  EXPECT_EQ(text,
            "tsdirector-admin 1\ndesk1 drain - active 1\ndesk-2.lab - 5 active 2\n"
            "n_3 maint 0 drain 1000\nend 3\n");
  auto out = parseAdmin(text);
  ASSERT_TRUE(out.ok()) << out.error();
  EXPECT_EQ(*out, in);
  auto empty = parseAdmin(serializeAdmin({}));
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

TEST(AdminStateTest, DamageIsRefused) {
  struct Case {
    const char* text;
    const char* error;
  };
  const Case cases[] = {
      {"", "empty"},
      {"tsdirector-admin 1\nend 0", "truncated"},
      {"tsdirector-sticky 1\nend 0\n", "not a tsdirector admin state file"},
      {"tsdirector-admin 2\nend 0\n", "newer"},
      {"tsdirector-admin x\nend 0\n", "bad version"},
      {"tsdirector-admin 1\na drain - active 1\n", "no end line"},
      {"tsdirector-admin 1\na drain - active 1\nend 2\n", "line 3: bad trailer"},
      {"tsdirector-admin 1\nend 0\nextra\n", "line 2: bad trailer"},
      {"tsdirector-admin 1\na drain - active\nend 1\n", "line 2: expected 5 fields"},
      {"tsdirector-admin 1\na<b drain - active 1\nend 1\n", "bad node name"},
      {"tsdirector-admin 1\na gone - active 1\nend 1\n", "bad state"},
      {"tsdirector-admin 1\na - 1001 active 1\nend 1\n", "bad weight"},
      {"tsdirector-admin 1\na - -1 active 1\nend 1\n", "bad weight"},
      {"tsdirector-admin 1\na - - active 1\nend 1\n", "without an override"},
      {"tsdirector-admin 1\na - 3 busy 1\nend 1\n", "bad file state"},
      {"tsdirector-admin 1\na - 3 active 1\na drain - active 1\nend 2\n", "line 3: node a twice"},
  };
  for (const Case& c : cases) {
    auto r = parseAdmin(c.text);
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_NE(r.error().find(c.error), std::string::npos) << c.text << " -> " << r.error();
  }
}

}  // namespace
}  // namespace tsd::sticky
