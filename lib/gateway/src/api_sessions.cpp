// /v1/sessions: live and past sessions, and terminating one. The session hub writes the records;
// this API reads them and asks the hub (SessionControl) to end a live one.
#include <map>

#include "api_internal.hpp"
#include "sallyport/recording/storage.hpp"

namespace sallyport::gateway::impl {
namespace {

constexpr int kDefaultListLimit = 100;
constexpr int kMaxListLimit = 1000;

// session:owner, session:runAs, node:id and, when the node is known, node:tag/<key>.
class SessionContexts {
 public:
  explicit SessionContexts(store::Store& store) : store_(store) {}

  RequestContext operator()(const store::SessionRecord& session) {
    RequestContext extra;
    auto it = nodes_.find(session.node_id);
    if (it == nodes_.end()) it = nodes_.emplace(session.node_id, store_.get_node(session.node_id)).first;
    if (it->second) add_node_context(extra, *it->second);
    add_session_context(extra, session);
    return extra;
  }

 private:
  store::Store& store_;
  std::map<std::string, std::optional<store::Node>> nodes_;  // one read per node per request
};

// The record, and for a live session what it waits for after a broken connection.
json live_session_json(Context& context, const store::SessionRecord& session) {
  json item = session_json(session);
  if (session.ended_at == 0) {
    if (auto waiting = context.sessions.waiting_for(session.id); !waiting.empty()) item["waiting_for"] = waiting;
  }
  return item;
}

HttpResponse list_sessions(Context& context, const HttpRequest& request, const Caller& caller) {
  const std::string state = request.query_param("state").empty() ? "active" : request.query_param("state");
  if (state != "active" && state != "history") {
    return error_response(400, "bad_request", "state must be 'active' or 'history'");
  }
  int limit = kDefaultListLimit;
  if (const auto text = request.query_param("limit"); !text.empty()) {
    try {
      limit = std::stoi(text);
    } catch (...) {
      limit = -1;
    }
    if (limit < 1 || limit > kMaxListLimit) return error_response(400, "bad_request", "limit must be 1-1000");
  }
  const auto principal = context.authorizer.principal(caller.user);
  const auto list_decision = Authorizer::decide(principal, "session:List", "session/*");
  if (!Authorizer::allowed(list_decision)) return context.deny(caller, request, "session:List", "session/*", &list_decision);
  SessionContexts contexts(context.store);
  json items = json::array();
  for (const auto& session : context.store.list_sessions(state == "active", limit)) {
    // Only the sessions the caller may read (SessionUser: their own).
    if (!Authorizer::allowed(Authorizer::decide(principal, "session:Read", "session/" + session.id, contexts(session)))) {
      continue;
    }
    items.push_back(live_session_json(context, session));
  }
  return json_response(200, {{"sessions", items}, {"state", state}});
}

// GET /v1/sessions/ID/recording: authorised by recording:Read on session/ID with the session's
// context (SessionUser: own sessions only). IDs that could name another file are refused and
// audited before anything is looked up.
HttpResponse serve_recording(Context& context, const HttpRequest& request, const std::string& id, const Caller& caller) {
  const std::string resource = "session/" + id.substr(0, 128);
  if (!recording::valid_session_id(id)) {
    context.audit.record(caller.user.name, request.remote_address, "recording:Read", resource, "denied",
                         "invalid session ID in the request path");
    return error_response(400, "bad_request", "invalid session ID");
  }
  const auto session = context.store.get_session(id);
  if (!session) {
    context.audit.record(caller.user.name, request.remote_address, "recording:Read", resource, "failure", "no such session");
    return error_response(404, "not_found", "no session " + id);
  }
  SessionContexts contexts(context.store);
  if (auto refused = context.authorize(caller, request, "recording:Read", resource, contexts(*session))) return *refused;
  auto read = context.sessions.read_recording(id);
  if (read.failure == recording::RecordingRead::Failure::kTooLarge) {
    return error_response(413, "too_large", "session " + id + ": " + read.error);
  }
  if (!read.text) return error_response(404, "not_found", "session " + id + ": " + read.error);
  context.audit.record(caller.user.name, request.remote_address, "recording:Read", resource, "success");
  HttpResponse response;
  response.status = 200;
  response.content_type = "application/x-asciicast";
  response.body = std::move(*read.text);
  return response;
}

}  // namespace

std::optional<HttpResponse> handle_sessions(Context& context, const HttpRequest& request,
                                            const std::vector<std::string>& path, const Caller& caller) {
  if (path.size() < 2 || path[1] != "sessions") return std::nullopt;
  if (path.size() == 2 && request.method == "GET") return list_sessions(context, request, caller);
  if (path.size() < 3) return std::nullopt;
  const std::string& id = path[2];
  if (path.size() == 4 && path[3] == "recording" && request.method == "GET") {
    return serve_recording(context, request, id, caller);
  }
  const std::string resource = "session/" + id;
  const bool show = path.size() == 3 && request.method == "GET";
  const bool terminate = path.size() == 4 && path[3] == "terminate" && request.method == "POST";
  if (!show && !terminate) return std::nullopt;
  // The record is needed first: its owner and node are the context of the decision.
  const auto session = context.store.get_session(id);
  if (!session) return error_response(404, "not_found", "no session " + id.substr(0, 128));
  SessionContexts contexts(context.store);
  const auto extra = contexts(*session);
  if (show) {
    if (auto refused = context.authorize(caller, request, "session:Read", resource, extra)) return refused;
    return json_response(200, live_session_json(context, *session));
  }
  Body body(request.body);
  const std::string reason = body.string("reason", false, 256);
  if (!body.ok()) return error_response(400, "bad_request", body.error());
  if (auto refused = context.authorize(caller, request, "session:Terminate", resource, extra)) return refused;
  if (session->ended_at != 0) {
    return error_response(409, "conflict", "session " + id + " has already ended (" + session->status + ")");
  }
  switch (terminate_anywhere(context, *session, caller.user.name, request.remote_address, reason)) {
    case Termination::kAlreadyEnded: {
      const auto now = context.store.get_session(id);
      return error_response(409, "conflict",
                            "session " + id + " has already ended (" + (now ? now->status : "gone") + ")");
    }
    case Termination::kRequested: {
      // Held by another gateway: 202 says the request stands; the record shows when it has ended.
      json answer = session_json(*session);
      answer["termination_requested_from"] = session->gateway_id;
      return json_response(202, answer);
    }
    case Termination::kEnded:
      break;
  }
  const auto after = context.store.get_session(id);
  return json_response(200, session_json(after ? *after : *session));
}

}  // namespace sallyport::gateway::impl
