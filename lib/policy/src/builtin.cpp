// Built-in policies and the catalogue of actions the gateway checks.
#include "sallyport/policy/policy.hpp"

namespace sallyport::policy {

const std::vector<std::string>& known_actions() {
  static const std::vector<std::string> kActions = {
      "session:Start",      "session:Terminate",  "session:List",       "session:Read",
      "session:PortForward", "session:Watch",    "node:List",         "node:Read",          "node:Tag",
      "node:Deregister",    "activation:Create",  "activation:List",    "activation:Delete",
      "user:Create",        "user:List",          "user:Read",          "user:Delete",
      "user:UpdatePassword", "user:Tag",          "group:Create",       "group:List",
      "group:Delete",       "group:AddUser",      "group:RemoveUser",   "policy:Create",
      "policy:Update",      "policy:Delete",      "policy:List",        "policy:Read",
      "policy:Attach",      "policy:Detach",      "policy:Simulate",    "preferences:Read",
      "preferences:Update", "audit:Read",         "recording:Read",
  };
  return kActions;
}

const std::map<std::string, std::string>& builtin_policies() {
  static const std::map<std::string, std::string> kPolicies = {
      {"AdministratorAccess", R"({
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "AllowEverything",
      "Effect": "Allow",
      "Action": "*",
      "Resource": "*"
    }
  ]
})"},
      {"SessionUser", R"({
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "BrowseNodes",
      "Effect": "Allow",
      "Action": ["node:List", "node:Read"],
      "Resource": "*"
    },
    {
      "Sid": "StartSessions",
      "Effect": "Allow",
      "Action": ["session:Start", "session:PortForward"],
      "Resource": "node/*"
    },
    {
      "Sid": "ListSessions",
      "Effect": "Allow",
      "Action": "session:List",
      "Resource": "*"
    },
    {
      "Sid": "ManageOwnSessions",
      "Effect": "Allow",
      "Action": ["session:Read", "session:Terminate", "session:Watch", "recording:Read"],
      "Resource": "session/*",
      "Condition": {
        "StringEquals": {"session:owner": "${user:name}"}
      }
    }
  ]
})"},
      {"ReadOnly", R"({
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "ReadEverything",
      "Effect": "Allow",
      "Action": [
        "node:List", "node:Read", "session:List", "session:Read", "audit:Read",
        "activation:List", "user:List", "user:Read", "group:List", "policy:List",
        "policy:Read", "preferences:Read"
      ],
      "Resource": "*"
    }
  ]
})"},
  };
  return kPolicies;
}

}  // namespace sallyport::policy
