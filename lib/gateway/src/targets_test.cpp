#include "targets.hpp"

#include <gtest/gtest.h>

namespace sallyport::gateway {
namespace {

store::Node node(bool connected, const std::string& gateway) {
  store::Node n;
  n.id = "mi-0123456789abcdef0";
  n.name = "web-1";
  n.connected = connected;
  n.connected_gateway = gateway;
  return n;
}

TEST(UnreachableNode, OfflineNodeIsNotConnected) {
  EXPECT_EQ(unreachable_node_message(node(false, ""), "gw-a"),
            "node mi-0123456789abcdef0 (web-1) is not connected (ConnectionLost)");
  EXPECT_EQ(unreachable_node_message(node(false, "gw-b"), "gw-a"),
            "node mi-0123456789abcdef0 (web-1) is not connected (ConnectionLost)");
}

TEST(UnreachableNode, NodeHeldByAnotherGatewayNamesThatGateway) {
  EXPECT_EQ(unreachable_node_message(node(true, "gw-b"), "gw-a"),
            "node mi-0123456789abcdef0 (web-1) is connected to gateway gw-b, not this one; sessions are not "
            "routed between gateways: use that gateway");
}

TEST(UnreachableNode, NodeThisGatewayThinksItHoldsIsNotConnected) {
  // The store says this gateway holds it, but its hub has no link (it just dropped).
  EXPECT_EQ(unreachable_node_message(node(true, "gw-a"), "gw-a"),
            "node mi-0123456789abcdef0 (web-1) is not connected (ConnectionLost)");
}

}  // namespace
}  // namespace sallyport::gateway
