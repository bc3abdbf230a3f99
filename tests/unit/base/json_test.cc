// JSON string escaping: what the admin endpoints echo must stay valid JSON.
#include "base/json.h"

#include <gtest/gtest.h>

namespace podrouter {
namespace {

TEST(JsonString, EscapesQuotesControlsAndBackslashes) {
  EXPECT_EQ(JsonString("plain"), "\"plain\"");
  EXPECT_EQ(JsonString("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(JsonString("\n\t\r"), "\"\\n\\t\\r\"");
  EXPECT_EQ(JsonString(std::string("\x01\x7f", 2)), "\"\\u0001\\u007f\"");
  EXPECT_EQ(JsonString("é"), "\"é\"");  // UTF-8 passes through
}

}  // namespace
}  // namespace podrouter
