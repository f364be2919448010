// /v1/groups: groups of users, their members and the policies attached to them.
#include "api_internal.hpp"
#include "sallyport/util/time_format.hpp"

namespace sallyport::gateway::impl {
namespace {

constexpr std::size_t kMaxGroupNameBytes = 64;

json group_json(Context& context, const store::Group& group) {
  return {{"name", group.name},
          {"created_at", util::format_rfc3339(group.created_at)},
          {"members", context.store.list_group_members(group.name)},
          {"policies", context.store.list_attached_policies(store::PolicyPrincipal::kGroup, group.name)}};
}

std::optional<store::Group> find_group(Context& context, const std::string& name) {
  for (auto& group : context.store.list_groups()) {
    if (group.name == name) return group;
  }
  return std::nullopt;
}

}  // namespace

std::optional<HttpResponse> handle_groups(Context& context, const HttpRequest& request,
                                          const std::vector<std::string>& path, const Caller& caller) {
  if (path.size() < 2 || path[1] != "groups") return std::nullopt;
  const std::string& source = request.remote_address;
  if (path.size() == 2 && request.method == "GET") {
    if (auto refused = context.authorize(caller, request, "group:List", "group/*")) return refused;
    json items = json::array();
    for (const auto& group : context.store.list_groups()) items.push_back(group_json(context, group));
    return json_response(200, {{"groups", items}});
  }
  if (path.size() == 2 && request.method == "POST") {
    Body body(request.body);
    const std::string name = body.string("name", true, kMaxGroupNameBytes);
    if (!body.ok()) return error_response(400, "bad_request", body.error());
    const std::string resource = "group/" + name;
    if (auto refused = context.authorize(caller, request, "group:Create", resource)) return refused;
    if (!valid_name(name, kMaxGroupNameBytes)) {
      return error_response(400, "bad_request", "group name may hold only letters, digits, '.', '_' and '-'");
    }
    const store::Group group{name, context.clock.now_ms()};
    if (!context.store.create_group(group)) return error_response(409, "conflict", "group " + name + " already exists");
    context.audit.record(caller.user.name, source, "group:Create", resource, "success");
    return json_response(201, group_json(context, group));
  }
  if (path.size() < 3) return std::nullopt;
  const std::string& name = path[2];
  const std::string resource = "group/" + name;
  if (path.size() == 3 && request.method == "GET") {
    // There is no group:Read action; reading one group is listing its entry.
    if (auto refused = context.authorize(caller, request, "group:List", resource)) return refused;
    const auto group = find_group(context, name);
    if (!group) return error_response(404, "not_found", "no group " + name.substr(0, 64));
    return json_response(200, group_json(context, *group));
  }
  if (path.size() == 3 && request.method == "DELETE") {
    if (auto refused = context.authorize(caller, request, "group:Delete", resource)) return refused;
    if (!context.store.delete_group(name)) return error_response(404, "not_found", "no group " + name.substr(0, 64));
    context.audit.record(caller.user.name, source, "group:Delete", resource, "success",
                         "memberships and attachments removed");
    return json_response(200, {{"name", name}, {"status", "deleted"}});
  }
  if (path.size() == 4 && path[3] == "members" && request.method == "POST") {
    Body body(request.body);
    const std::string user = body.string("user", true, 64);
    if (!body.ok()) return error_response(400, "bad_request", body.error());
    if (auto refused = context.authorize(caller, request, "group:AddUser", resource)) return refused;
    if (!group_exists(context, name)) return error_response(404, "not_found", "no group " + name.substr(0, 64));
    if (!context.store.get_user(user)) return error_response(404, "not_found", "no user " + user);
    if (!context.store.add_group_member(name, user)) {
      return error_response(404, "not_found", "group " + name + " or user " + user + " no longer exists");
    }
    context.audit.record(caller.user.name, source, "group:AddUser", resource, "success", "user " + user);
    return json_response(200, {{"group", name}, {"user", user}, {"status", "added"}});
  }
  if (path.size() == 5 && path[3] == "members" && request.method == "DELETE") {
    const std::string& user = path[4];
    if (auto refused = context.authorize(caller, request, "group:RemoveUser", resource)) return refused;
    if (!context.store.remove_group_member(name, user)) {
      return error_response(404, "not_found", "user " + user.substr(0, 64) + " is not a member of group " + name.substr(0, 64));
    }
    context.audit.record(caller.user.name, source, "group:RemoveUser", resource, "success", "user " + user);
    return json_response(200, {{"group", name}, {"user", user}, {"status", "removed"}});
  }
  return std::nullopt;
}

}  // namespace sallyport::gateway::impl
