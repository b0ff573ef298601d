// Progressive enhancement only: every page works without this script.
// 1. Due times count down ([data-due]). 2. Regions with [data-refresh] reload themselves in place.
// 3. A chat ([data-chat-socket]) shows new messages live over the portal's socket.
"use strict";

const REFRESH_MS = 5000;

function remaining(due) {
  const ms = Date.parse(due) - Date.now();
  const late = ms < 0;
  const minutes = Math.floor(Math.abs(ms) / 60000);
  const hours = Math.floor(minutes / 60);
  const text = hours >= 24 ? `${Math.floor(hours / 24)}d ${hours % 24}h` : `${hours}h ${minutes % 60}m`;
  return { late, text };
}

function tick() {
  const english = document.documentElement.lang === "en";
  for (const time of document.querySelectorAll("[data-due]")) {
    let badge = time.nextElementSibling;
    if (!badge || !badge.classList.contains("countdown")) {
      badge = document.createElement("span");
      badge.className = "countdown";
      time.after(badge);
    }
    const { late, text } = remaining(time.dataset.due);
    badge.classList.toggle("overdue", late);
    badge.textContent = late ? (english ? `overdue ${text}` : `已超时 ${text}`) : (english ? `${text} left` : `剩余 ${text}`);
  }
}

async function refresh(region) {
  try {
    const response = await fetch(region.dataset.refresh, { credentials: "same-origin", headers: { Accept: "text/html" } });
    if (!response.ok) return;
    const html = await response.text();
    const selector = region.dataset.refreshSelect;
    if (selector) {
      const fresh = new DOMParser().parseFromString(html, "text/html").querySelector(selector);
      if (fresh) region.innerHTML = fresh.innerHTML;
    } else {
      region.innerHTML = html;
    }
    tick();
  } catch (error) {
    // Offline for a moment: the next round tries again.
  }
}

function chat(log) {
  let after = Number(log.dataset.after || 0);
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const connect = () => {
    const socket = new WebSocket(`${scheme}://${location.host}${log.dataset.chatSocket}?after=${after}`);
    socket.addEventListener("message", (event) => {
      const frame = JSON.parse(event.data);
      if (frame.type === "message" && frame.seq > after) {
        after = frame.seq;
        const item = document.createElement("li");
        item.className = `message ${frame.author_role}`;
        const who = document.createElement("strong");
        who.textContent = log.getAttribute(`data-label-${frame.author_role}`) || frame.author_role;
        const body = document.createElement("p");
        body.textContent = frame.body;
        item.append(who, body);
        log.append(item);
      } else if (frame.type === "status") {
        const status = document.getElementById("chat-status");
        if (status) status.textContent = log.getAttribute(`data-label-status-${frame.status}`) || frame.status;
      }
    });
    socket.addEventListener("close", (event) => {
      // 4401: the session's token needs refreshing, which a page load does; 4403 and 44xx: not to retry.
      if (event.code === 4401) location.reload();
      else if (event.code < 4000) setTimeout(connect, REFRESH_MS);
    });
  };
  connect();
}

document.addEventListener("DOMContentLoaded", () => {
  for (const log of document.querySelectorAll("[data-chat-socket]")) chat(log);
  tick();
  setInterval(tick, 30000);
  for (const region of document.querySelectorAll("[data-refresh]")) {
    setInterval(() => refresh(region), REFRESH_MS);
  }
});
