// Progressive enhancement only: every page works without this script.
// 1. Due times count down ([data-due]). 2. Regions with [data-refresh] reload themselves in place.
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

document.addEventListener("DOMContentLoaded", () => {
  tick();
  setInterval(tick, 30000);
  for (const region of document.querySelectorAll("[data-refresh]")) {
    setInterval(() => refresh(region), REFRESH_MS);
  }
});
