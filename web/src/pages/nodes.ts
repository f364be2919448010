// Managed nodes: the inventory table, filtered by tag, status and text, refreshed every few
// seconds without a reload. "Start session" opens the terminal page.
import { errorText, get } from "../api";
import { clear, formatTime, h, message, table, tagList } from "../dom";
import type { Page } from "../main";

const kRefreshMs = 3000;

export interface Node {
  id: string;
  name: string;
  ping_status: string;
  platform: string;
  agent_version: string;
  ip_addresses: string[];
  tags: Record<string, string>;
  last_ping_at: string;
  session_start?: { allowed: boolean; run_as: string; reason: string };
}

// Startable only when the node is online and the policies allow session:Start; else why not.
function startCell(node: Node): HTMLElement {
  if (node.session_start && !node.session_start.allowed) {
    return h("span", { class: "muted small why-not" }, `Not allowed as ${node.session_start.run_as}: ${node.session_start.reason}`);
  }
  if (node.ping_status !== "Online") return h("span", { class: "muted small why-not" }, "Offline: the agent is not connected");
  return h("a", { class: "button", href: `#/terminal/${encodeURIComponent(node.id)}`, "aria-label": `Start session on ${node.name || node.id}`,
    title: node.session_start ? `as ${node.session_start.run_as}` : undefined }, "Start session");
}

export const nodesPage: Page = (main, me) => {
  const text = h("input", { type: "search", placeholder: "Name, ID, platform, IP", "aria-label": "Filter by text" });
  const status = h("select", { "aria-label": "Filter by status" },
    h("option", { value: "" }, "Any status"), h("option", { value: "Online" }, "Online"), h("option", { value: "ConnectionLost" }, "ConnectionLost"));
  const tag = h("input", { type: "search", placeholder: "key=value", "aria-label": "Filter by tag" });
  const list = h("div", { class: "list" });
  const updated = h("span", { class: "muted small" });
  main.append(
    h("div", { class: "page-head" }, h("h1", {}, "Managed nodes"), updated),
    h("div", { class: "filters" }, text, status, tag),
    list);
  let nodes: Node[] = [];
  let failure = "";

  const matches = (node: Node): boolean => {
    if (status.value && node.ping_status !== status.value) return false;
    const wanted = tag.value.trim();
    if (wanted) {
      const [key, value] = wanted.split("=", 2);
      if (!(key in node.tags)) return false;
      if (value !== undefined && node.tags[key] !== value) return false;
    }
    const needle = text.value.trim().toLowerCase();
    if (!needle) return true;
    return [node.name, node.id, node.platform, node.agent_version, ...node.ip_addresses].some((v) => v?.toLowerCase().includes(needle));
  };

  const render = (): void => {
    clear(list);
    if (failure) list.appendChild(message("error", failure));
    const rows = nodes.filter(matches).map((node) => [
      h("span", { class: "strong" }, node.name || "—"),
      h("code", {}, node.id),
      h("span", { class: `status status-${node.ping_status}` }, node.ping_status),
      node.platform,
      node.agent_version,
      node.ip_addresses.join(", "),
      tagList(node.tags),
      formatTime(node.last_ping_at),
      startCell(node),
    ]);
    list.appendChild(table(["Name", "Node ID", "Ping status", "Platform", "Agent", "IP", "Tags", "Last ping", ""], rows,
      nodes.length ? "No node matches the filters." : "No nodes yet: create an activation and register an agent."));
  };

  const refresh = async (): Promise<void> => {
    try {
      nodes = (await get<{ nodes: Node[] }>("/v1/nodes")).nodes;
      failure = "";
      updated.textContent = `Updated ${new Date().toLocaleTimeString()}`;
    } catch (error) {
      failure = errorText(error);
    }
    render();
  };
  for (const input of [text, status, tag]) input.addEventListener("input", render);
  void me;
  void refresh();
  const timer = window.setInterval(() => void refresh(), kRefreshMs);
  return () => window.clearInterval(timer);
};
